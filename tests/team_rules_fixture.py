"""A small team rule file the sidebar tests load on top of the default packs (no Qt here)."""

TEAM_RULES = """version: 1
lexicons:
  router-words:
    phrases: [restart the router]
rules:
  - id: router-tip
    title: Router tip
    severity: low
    why: Tell them how long it takes.
    when:
      speaker: agent
      says: router-words
    message: "Say how long a restart takes."
"""
