import json
import subprocess
import sys

from tests.conftest import CONFIG, PARENT, STAFF, mail


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_check_json_contract(tmp_path):
    held = tmp_path / "held.eml"
    held.write_bytes(mail("WhatsApp me on 07911 123456", to=(PARENT,), cc=(STAFF,)))
    clean = tmp_path / "clean.eml"
    clean.write_bytes(mail("See you on Thursday."))
    out = run(
        "check",
        "--config",
        str(CONFIG),
        "--json",
        str(held),
        str(clean),
        str(tmp_path / "missing.eml"),
    )
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [x["file"] for x in lines] == [str(held), str(clean), str(tmp_path / "missing.eml")]
    assert lines[0]["verdict"] == "quarantine"
    assert lines[0]["recipients"] == {PARENT: "quarantine", STAFF: "pass"}
    # The contract's fields, and for a contact detail whose it is and why.
    finding = lines[0]["findings"][0]
    assert {"rule", "category", "evidence", "part", "quoted"} <= set(finding)
    assert set(finding) - {"rule", "category", "evidence", "part", "quoted"} <= {
        "owner",
        "owner_why",
    }
    if finding["category"] == "personal_phone":
        assert finding["owner"] == "sender" and finding["owner_why"]
    assert lines[1] == {
        "file": str(clean),
        "verdict": "pass",
        "recipients": {PARENT: "pass"},
        "findings": [],
    }
    assert lines[2]["verdict"] == "quarantine" and "error" in lines[2]


def test_check_envelope_override_and_at(tmp_path):
    f = tmp_path / "m.eml"
    f.write_bytes(mail("The trip mobile is 07700 900123."))
    before = json.loads(
        run("check", "--config", str(CONFIG), "--json", "--at", "2026-12-20T12:00", str(f)).stdout
    )
    after = json.loads(
        run("check", "--config", str(CONFIG), "--json", "--at", "2026-12-21T00:00", str(f)).stdout
    )
    staff = json.loads(
        run(
            "check",
            "--config",
            str(CONFIG),
            "--json",
            "--at",
            "2026-12-21T00:00",
            "--rcpt",
            STAFF,
            str(f),
        ).stdout
    )
    assert (before["verdict"], after["verdict"], staff["verdict"]) == ("pass", "quarantine", "pass")


def test_eval_scores_a_labelled_corpus(tmp_path):
    (tmp_path / "a.eml").write_bytes(mail("Text me on 07911 123456"))
    (tmp_path / "b.eml").write_bytes(mail("Homework is on Google Classroom."))
    (tmp_path / "m.jsonl").write_text(
        '{"id": "a", "file": "a.eml", "expect": "hold", "categories": ["personal_phone"]}\n'
        '{"id": "b", "file": "b.eml", "expect": "pass", "categories": []}\n'
    )
    out = run("eval", "--config", str(CONFIG), str(tmp_path / "m.jsonl")).stdout
    assert "recall: 1.000" in out and "false-positive rate: 0.000" in out


def test_rules_check_lists_rules():
    out = run("rules", "check", "--config", str(CONFIG))
    assert out.returncode == 0 and "personal-phone" in out.stdout


def test_check_explain_says_whose_each_detail_is_and_why(tmp_path):
    msg = tmp_path / "m.eml"
    msg.write_bytes(
        mail(
            "Joy Adeyemi, Social Worker, Solihull Council\nWork mobile: 07700 900390\n\n"
            "And my own mobile is 07911 123456.\n\nNever share your password with anyone."
        )
    )
    out = run("check", "--config", str(CONFIG), "--explain", str(msg))
    assert out.returncode == 1, out.stderr
    lines = [line.strip() for line in out.stdout.splitlines()]
    lines = [line for line in lines if line.startswith(("cleared ", "finding "))]
    cleared = next(line for line in lines if "07700 900390" in line)
    assert "cleared" in cleared and "[third_party]" in cleared and "social worker" in cleared
    found = next(line for line in lines if "07911 123456" in line)
    assert found.split()[0] == "finding" and "[sender]" in found and "'my'" in found
