"""One clock formatter for every view (timefmt.clock), in the formats each view showed before."""

import pytest

from rapport_assist.timefmt import clock


@pytest.mark.parametrize(
    "t, options, text",
    [
        (65.27, {}, "1:05.3"),  # reports, diffs
        (65.27, {"pad": True}, "01:05.3"),  # the terminal's event lines
        (65.97, {"tenths": False}, "1:05"),  # the sidebar: whole seconds, cut down
        (-3.0, {}, "0:00.0"),
        (59.96, {}, "1:00.0"),  # rounded up to the next minute, not "0:60.0"
        (119.95, {"pad": True}, "02:00.0"),
        (3599.96, {"hours": True}, "1:00:00.0"),
        (0.04, {}, "0:00.0"),
        (3725.0, {"tenths": False, "hours": True}, "1:02:05"),  # progress lines
        (3599.0, {"tenths": False, "hours": True}, "59:59"),
        (3725.0, {"tenths": False}, "62:05"),
    ],
)
def test_clock(t, options, text):
    assert clock(t, **options) == text
