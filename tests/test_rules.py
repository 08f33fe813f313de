import pytest

from gateway.judge.rules import RuleError, load_rule_file, load_rules

GOOD = """
[[rule]]
id = "x"
category = "secrecy"
clause = "transparent"
detector = "phrases"
patterns = ["keep ~2 secret"]
"""


def write(tmp_path, text, name="r.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_good_file_loads(tmp_path):
    [rule] = load_rule_file(write(tmp_path, GOOD))
    assert rule.patterns[0].search("please keep this a secret")


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("[[rule]\nid=1", "r.toml:1"),
        (GOOD.replace('"secrecy"', '"gossip"'), "category must be one of"),
        (GOOD.replace('"keep ~2 secret"', '"keep (secret"'), "not a valid pattern"),
        (GOOD.replace('"keep ~2 secret"', '"{nolist}"'), "unknown list"),
        (GOOD.replace('clause = "transparent"\n', ""), "must quote the policy clause"),
        (
            GOOD.replace('detector = "phrases"', 'detector = "phrases"\ncolour = "red"'),
            "unknown key 'colour'",
        ),
        # An optional group ending in a space, then a gap: never matches when absent.
        (GOOD.replace('"keep ~2 secret"', '"keep (?:it )?~2 secret"'), "optional group"),
        (GOOD.replace('"keep ~2 secret"', '"keep (?:it )? secret"'), "optional group"),
    ],
)
def test_broken_files_say_file_line_and_what(tmp_path, text, fragment):
    with pytest.raises(RuleError) as exc:
        load_rule_file(write(tmp_path, text))
    assert fragment in str(exc.value)
    assert str(exc.value).startswith(str(tmp_path / "r.toml") + ":")


def test_the_gap_covers_words_an_optional_group_would_have():
    [rule] = load_rule_file_text(GOOD.replace('"keep ~2 secret"', '"keep (?:it|this) ~2 secret"'))
    assert rule.patterns[0].search("please keep it a secret")


def test_a_pattern_ends_before_a_possessive_s_but_not_inside_a_contraction():
    import regex

    from gateway.judge.rules import expand_pattern

    mine = regex.compile(expand_pattern("my number", {}), regex.IGNORECASE)
    assert mine.search("My number's in my signature")
    assert mine.search("my number’s below")
    can = regex.compile(expand_pattern("i can", {}), regex.IGNORECASE)
    assert not can.search("I can't give it out")
    assert not mine.search("my numbers")


def load_rule_file_text(text):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        return load_rule_file(write(Path(d), text))


def test_error_points_at_the_rule_line(tmp_path):
    text = GOOD + GOOD.replace('id = "x"', 'id = "y"').replace('"secrecy"', '"nope"')
    with pytest.raises(RuleError) as exc:
        load_rule_file(write(tmp_path, text))
    line = int(str(exc.value).split(":")[1])
    assert text.splitlines()[line - 1].strip() == 'id = "y"'


def test_duplicate_ids_across_files(tmp_path):
    write(tmp_path, GOOD, "a.toml")
    write(tmp_path, GOOD, "b.toml")
    with pytest.raises(RuleError, match="already used"):
        load_rules([tmp_path])


def test_an_emptied_rule_file_is_an_error_not_rules_switched_off(tmp_path):
    for text in ("", "# all gone\n", "[lists]\nwords = ['a']\n"):
        with pytest.raises(RuleError, match="has no rules"):
            load_rules([write(tmp_path, text)])


def test_a_rule_switched_off_is_kept_but_never_runs(tmp_path, config):
    import dataclasses

    from gateway.judge.scan import Scanner

    from .conftest import PARENT, mail

    rules = load_rules(
        [
            write(
                tmp_path,
                GOOD.replace(
                    'patterns = ["keep ~2 secret"]', 'patterns = ["keep ~2 secret"]\naction = "off"'
                ),
            )
        ]
    )
    assert [r.id for r in rules.rules] == ["x"] and not rules.active
    scanner = Scanner(dataclasses.replace(config, rules=rules))
    assert scanner.scan(mail("Please keep this a secret."), rcpts=[PARENT]).verdict == "pass"


def test_a_set_that_lost_rules_says_which_unless_they_were_retired(tmp_path):
    before = load_rules([write(tmp_path, GOOD + GOOD.replace('id = "x"', 'id = "y"'))])
    after = load_rules([write(tmp_path, GOOD)])
    assert after.lost_from(before) == ["y"]
    retired = load_rules([write(tmp_path, 'retired = ["y"]\n' + GOOD)])
    assert retired.lost_from(before) == []


def test_rules_that_leave_a_category_without_any_rule_are_refused(tmp_path):
    import re
    import shutil
    import subprocess

    from gateway.config import load_config
    from gateway.judge.rules import RulesUncovered

    from .conftest import CONFIG, ROOT
    from .relay_env import GATEWAY

    # The shipped rules with the secrecy rules retired: no rule is lost by
    # accident, but the school's configuration requires a secrecy rule.
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    for f in rules.glob("*.toml"):
        blocks = re.split(r"(?m)^(?=\[\[rule\]\])", f.read_text())
        kept = [b for b in blocks if 'category = "secrecy"' not in b]
        f.write_text("".join(kept))
    text = CONFIG.read_text().replace('paths = ["../rules"]', f'paths = ["{rules}"]')
    for name in ("parents.csv", "staff.csv"):
        text = text.replace(f'"{name}"', f'"{CONFIG.parent / name}"')
    text = text.replace('templates = "templates"', f'templates = "{CONFIG.parent / "templates"}"')
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    with pytest.raises(RulesUncovered, match="no rule for secrecy"):
        load_config(path)
    out = subprocess.run(
        [str(GATEWAY), "rules", "check", "--config", str(path)], capture_output=True, text=True
    )
    assert out.returncode != 0 and "no rule for secrecy" in out.stdout + out.stderr
    # Kept with action = "off", the category is switched off on purpose: a warning.
    shutil.rmtree(rules)
    shutil.copytree(ROOT / "rules", rules)
    for f in rules.glob("*.toml"):
        blocks = re.split(r"(?m)^(?=\[\[rule\]\])", f.read_text())
        f.write_text(
            "".join(
                re.sub(r'(?m)^action = "\w+"', 'action = "off"', b)
                if 'category = "secrecy"' in b
                else b
                for b in blocks
            )
        )
    config = load_config(path)
    assert any("secrecy is switched off" in w for w in config.warnings)
