"""scripts/twcs_dialogues.py: twcs CSV rows -> threads, on a small made-up CSV (our own tweets)."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("twcs_dialogues", ROOT / "scripts" / "twcs_dialogues.py")
twcs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(twcs)

T = "Tue Oct 31 22:10:47 +0000 2017"


def _csv(rows: list[tuple], crlf: bool = True) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    w.writerow(twcs.HEADER.split(","))
    for tid, author, inbound, text, parent in rows:
        w.writerow([tid, author, "TRUE" if inbound else "FALSE", T, text, "", parent])
    return buf.getvalue()


# thread 10: customer 900 and AcmeHelp, with a third party (901), a second brand (OtherCo),
# two replies to one tweet (the earlier one by id is taken), and an entity to unescape
ROWS_A = [
    (12, "AcmeHelp", False, "@900 Sorry to hear that &amp; thanks. DM us?", 10),
    (11, "901", True, "@900 same here &gt;:(", 10),
    (14, "900", True, "@AcmeHelp done, sent it", 12),
    (13, "900", True, "@AcmeHelp also it was\nbroken twice &lt;3", 12),
    (15, "OtherCo", False, "@900 we can help too", 13),
    (16, "AcmeHelp", False, "@900 Got it, thanks", 13),
    (10, "900", True, "@AcmeHelp my order never came", ""),
    # thread 20: no brand reply (only the customer and a third party)
    (21, "902", True, "@903 me too", 20),
    (20, "903", True, "@AcmeHelp where is my parcel", ""),
    # thread 30: a brand's own root tweet (not a customer) is not a thread
    (31, "904", True, "@AcmeHelp nice", 30),
    (30, "AcmeHelp", False, "Big sale today", ""),
]


def _threads(text: str, tmp_path: Path, name: str = "a.csv") -> list[dict]:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8", newline="")
    rows, cut_start, cut_end = twcs.read_rows([p])
    return twcs.build_threads(rows, cut_start, cut_end)


def test_chain_order_branching_third_parties_and_entities(tmp_path):
    threads = _threads(_csv(ROWS_A), tmp_path)
    assert [t["id"] for t in threads] == ["twcs-10"]
    (t,) = threads
    assert [x["tweet_id"] for x in t["turns"]] == ["10", "12", "13", "16"]
    assert [x["speaker"] for x in t["turns"]] == ["customer", "agent", "customer", "agent"]
    assert [x["handle"] for x in t["turns"]] == ["900", "AcmeHelp", "900", "AcmeHelp"]
    assert t["meta"]["company"] == "AcmeHelp"
    assert t["turns"][1]["text"] == "@900 Sorry to hear that & thanks. DM us?"
    assert t["turns"][2]["text"] == "@AcmeHelp also it was\nbroken twice <3"
    assert t["turns"][0]["datetime"] == "2017-10-31T22:10:47.000Z"


def test_twelve_turn_cap(tmp_path):
    rows = [(100, "905", True, "@AcmeHelp it broke", "")]
    for i in range(1, 20):
        who, inbound = ("AcmeHelp", False) if i % 2 else ("905", True)
        rows.append((100 + i, who, inbound, f"turn {i}", 100 + i - 1))
    (t,) = _threads(_csv(rows), tmp_path)
    assert len(t["turns"]) == twcs.MAX_TURNS == 12
    assert t["turns"][-1]["tweet_id"] == "111"


def test_consecutive_customer_tweets_stay_separate_turns(tmp_path):
    rows = [
        (201, "906", True, "@AcmeHelp second part", 200),
        (202, "AcmeHelp", False, "@906 We'll look", 201),
        (200, "906", True, "@AcmeHelp first part", ""),
    ]
    (t,) = _threads(_csv(rows, crlf=False), tmp_path)
    assert [x["speaker"] for x in t["turns"]] == ["customer", "customer", "agent"]


def test_pages_cut_rows_and_their_threads_are_dropped(tmp_path):
    rows = [
        (41, "AcmeHelp", False, "@907 hello there", 40),
        (40, "907", True, "@AcmeHelp help", ""),
        (51, "AcmeHelp", False, "@908 sure thing", 50),
        (50, "908", True, "@AcmeHelp a question", ""),
        (61, "AcmeHelp", False, "@909 ok then", 60),
        (60, "909", True, "@AcmeHelp last one", ""),
    ]
    text = _csv(rows)[len(twcs.HEADER) + 2 :]  # no header, as in a raw page
    a, b = text[5:70], text[70:-6]  # two consecutive "pages", cut inside rows at both ends
    (tmp_path / "p1.csv").write_text(a, encoding="utf-8", newline="")
    (tmp_path / "p2.csv").write_text(b, encoding="utf-8", newline="")
    got, cut_start, cut_end = twcs.read_rows([tmp_path / "p1.csv", tmp_path / "p2.csv"])
    assert cut_start and cut_end
    assert [r["tweet_id"] for r in got] == ["40", "51", "50", "61"]
    threads = twcs.build_threads(got, cut_start, cut_end)
    assert [t["id"] for t in threads] == ["twcs-50"]


def test_filter_and_cli_first_and_ids(tmp_path):
    rows = ROWS_A + [
        (71, "AcmeHelp", False, "@910 Lamentamos el inconveniente, por favor escríbenos", 70),
        (70, "910", True, "@AcmeHelp compré una tarjeta y no funciona, que hago", ""),
        (81, "AcmeHelp", False, "@911 Thanks, please DM us", 80),
        (80, "911", True, "@AcmeHelp why is the app down again", ""),
    ]
    src = tmp_path / "all.csv"
    src.write_text(_csv(rows), encoding="utf-8", newline="")
    out = tmp_path / "out.jsonl"
    assert twcs.main([str(src), "--first", "5", "--out", str(out)]) == 0
    ids = [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert ids == ["twcs-10", "twcs-80"]  # the Spanish thread fails the English check
    keep = tmp_path / "ids.jsonl"
    keep.write_text(json.dumps({"id": "twcs-80", "labels": {}}) + "\n", encoding="utf-8")
    assert twcs.main([str(src), "--ids", str(keep), "--out", str(out)]) == 0
    assert [json.loads(x)["id"] for x in out.read_text(encoding="utf-8").splitlines()] == ["twcs-80"]


def test_bad_csv_is_a_clear_error(tmp_path, capsys):
    src = tmp_path / "bad.csv"
    src.write_text(twcs.HEADER + "\n1,900,TRUE,x\n", encoding="utf-8")
    assert twcs.main([str(src), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "7" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def _pandas_csv(rows: list[tuple]) -> str:
    """The shape of a slice saved by pandas ``to_csv`` with its index: a leading index column,
    True/False, the parent id as a float, a response list kept as a quoted string."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["", *twcs.HEADER.split(",")])
    for i, (tid, author, inbound, text, parent) in enumerate(rows):
        w.writerow([i, tid, author, "True" if inbound else "False", T, text, "5,6", f"{parent}.0" if parent else ""])
    return buf.getvalue()


def test_pandas_export_reads_like_the_raw_dump(tmp_path):
    raw = _threads(_csv(ROWS_A), tmp_path, "raw.csv")
    p = tmp_path / "pd.csv"
    p.write_text(_pandas_csv(ROWS_A), encoding="utf-8", newline="")
    rows, cut_start, cut_end = twcs.read_rows([p])
    assert rows[0]["parent"] == "10" and rows[0]["inbound"] is False
    assert not cut_start and cut_end  # a head() slice may stop inside its last thread
    # the last root row (30) is a brand's tweet, so dropping its thread changes nothing here
    assert twcs.build_threads(rows, cut_start, cut_end) == raw


def test_pandas_export_lone_cr_inside_a_field_is_a_line_break(tmp_path):
    rows = [
        (41, "AcmeHelp", False, "@907 ok", 40),
        (40, "907", True, "@AcmeHelp hi\r\rit broke", ""),
        (50, "908", True, "x", ""),
    ]
    text = _pandas_csv(rows).replace('"@AcmeHelp hi\r\rit broke"', "@AcmeHelp hi\r\rit broke")
    assert "\r\rit broke," in text  # unquoted, as pandas writes it
    p = tmp_path / "pd.csv"
    p.write_text(text, encoding="utf-8", newline="")
    got, cut_start, cut_end = twcs.read_rows([p])
    assert [r["tweet_id"] for r in got] == ["41", "40", "50"]
    (t,) = twcs.build_threads(got, cut_start, cut_end)
    assert t["turns"][0]["text"] == "@AcmeHelp hi\n\nit broke"


def test_cli_source_and_exclude(tmp_path):
    old = tmp_path / "old.csv"
    old.write_text(_csv(ROWS_A[:7]), encoding="utf-8", newline="")  # thread 10 was used before
    new_rows = ROWS_A + [
        (81, "AcmeHelp", False, "@911 Thanks, please DM us", 80),
        (80, "911", True, "@AcmeHelp app down", ""),
        (90, "912", True, "x", ""),
    ]
    src = tmp_path / "pd.csv"
    src.write_text(_pandas_csv(new_rows), encoding="utf-8", newline="")
    out = tmp_path / "out.jsonl"
    spec = "someone/data:twcs.csv@" + "a" * 40
    assert twcs.main([str(src), "--source", spec, "--exclude", str(old), "--out", str(out)]) == 0
    (t,) = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert t["id"] == "twcs-80"
    assert t["source"]["repo"] == "someone/data" and t["source"]["commit"] == "a" * 40
    assert twcs.main([str(src), "--source", "nonsense", "--out", str(out)]) == 2


def test_pandas_export_mixed_with_pages_is_refused(tmp_path, capsys):
    a, b = tmp_path / "pd.csv", tmp_path / "page.csv"
    a.write_text(_pandas_csv(ROWS_A), encoding="utf-8", newline="")
    b.write_text(_csv(ROWS_A), encoding="utf-8", newline="")
    assert twcs.main([str(a), str(b), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "only input" in capsys.readouterr().err
