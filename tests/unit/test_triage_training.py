"""Training triage on a real organisation's ticket export: any encoding, any columns, quoted
newlines, a long tail of queues, upstream labels mapped through the catalog. Tiny data, made here."""

from __future__ import annotations

import csv
import gzip
import io
import json
import pickle
import random
from pathlib import Path

import joblib
import pytest
from typer.testing import CliRunner

from contracts.catalog import Catalog, CatalogError, load_catalog
from contracts.coworkers import load_workforce
from deploy.cli import app
from services.triage.classifier import CategoryModel, normalise, readable
from services.triage.train import NOT_IN_CATALOG, Labelled, coverage_problems, map_labels, queue_name, read_csv, split, train

QUIET = {"say": lambda _: None}
VOCABULARY = "printer laptop screen vpn password badge invoice payroll leave mailbox storage quota wifi monitor docking keyboard license contract laptop".split()


def skill(name: str, category: str, example: str) -> dict:
    return {"name": name, "category": category, "description": f"{example} for the requester", "examples": [example], "requires": {"okta": ["okta.users.read"]}}


def catalog(*categories: dict, skills: list[dict] | None = None) -> Catalog:
    return Catalog.model_validate({"categories": list(categories), "skills": skills or [skill("printer-fix", "Printing", "printer jammed paper")]})


def write(path: Path, rows: list[dict[str, str]], *, encoding: str = "utf-8", header: list[str] | None = None) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=header or list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    data = buffer.getvalue().encode(encoding)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def tickets(label: str, words: list[str], n: int, seed: int) -> list[dict[str, str]]:
    """``n`` short tickets in the label's own words, with a little shared noise."""
    rng = random.Random(seed)
    return [{"text": " ".join(rng.sample(words, 3) + rng.sample(VOCABULARY, 1) + [label.lower()]), "category": label} for _ in range(n)]


@pytest.fixture
def long_tail(tmp_path: Path) -> Path:
    rows = tickets("Printing", ["printer", "toner", "jammed", "paper", "tray", "print"], 30, 1)
    rows += tickets("Payroll", ["salary", "payslip", "payroll", "wrong", "bonus", "tax"], 25, 2)
    rows += tickets("Network", ["vpn", "wifi", "network", "router", "connect", "dropping"], 20, 3)
    rows += tickets("Facilities", ["desk", "chair", "light", "room", "heating", "broken"], 15, 4)
    rows += tickets("GRP_77", ["legal", "hold", "discovery"], 1, 5)  # one ticket
    rows += tickets("GRP_78", ["travel", "visa", "booking", "flight"], 2, 6)  # two
    rows += [{"text": "  ", "category": "GRP_79"} for _ in range(3)]  # only empty text
    rows += [{"text": "printer on fire", "category": ""}]  # no label
    return write(tmp_path / "export.csv", rows)


TAIL_CATALOG = catalog({"name": "Printing", "queue": "print-desk"}, {"name": "Payroll", "queue": "payroll"}, {"name": "Network", "queue": "network"}, {"name": "Facilities", "queue": "facilities"})


# --- reading an export ---------------------------------------------------------------------------


def test_a_quoted_multi_line_field_keeps_its_words_apart(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", [{"text": "printer broken since today\nreceived error 42", "category": "Hardware"}])
    data = read_csv(path)
    assert data.texts == ["printer broken since today\nreceived error 42"]
    assert "today received" in normalise(data.texts[0])


def test_an_excel_export_with_a_bom_is_read(tmp_path: Path) -> None:
    data = read_csv(write(tmp_path / "t.csv", [{"text": "vpn down", "category": "Network"}], encoding="utf-8-sig"))
    assert data.labels == ["Network"] and data.encoding == "utf-8"


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_a_windows_or_latin_1_file_reads_with_its_accents_and_says_how(tmp_path: Path, encoding: str) -> None:
    said: list[str] = []
    data = read_csv(write(tmp_path / "t.csv", [{"text": "café réseau en panne", "category": "Réseau"}], encoding=encoding), say=said.append)
    assert data.texts == ["café réseau en panne"] and data.labels == ["Réseau"]
    assert data.encoding == "cp1252"  # the two agree on these bytes; cp1252 is tried first
    assert any("cp1252" in line for line in said)


def test_bytes_only_latin_1_can_decode_are_read_as_latin_1(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes("text,category\ncaf\xe9 \x81,Net\n".encode("latin-1"))  # 0x81 is not cp1252
    assert read_csv(path).encoding == "latin-1" and read_csv(path).texts[0].startswith("café")


def test_wrong_columns_are_an_error_that_lists_the_columns_found(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", [{"short_description": "vpn down", "assignment_group": "GRP_1"}])
    with pytest.raises(ValueError, match=r"no column 'text', 'category'; found 'short_description', 'assignment_group'"):
        read_csv(path)
    assert read_csv(path, text_column="short_description", label_column="assignment_group").labels == ["GRP_1"]


def test_several_text_columns_are_joined_and_empty_rows_are_counted_not_learned(tmp_path: Path) -> None:
    rows = [
        {"short_description": "VPN down", "description": "since the update", "group": "Network"},
        {"short_description": "", "description": "", "group": "Network"},
        {"short_description": "printer", "description": "", "group": ""},
    ]
    data = read_csv(write(tmp_path / "t.csv.gz", rows), text_column="short_description, description", label_column="Group")
    assert data.texts == ["VPN down\nsince the update"] and data.labels == ["Network"]
    assert data.skipped == {"no text": 1, "no label": 1} and data.textless == {"Network": 1}


def test_a_semicolon_separated_export_is_read(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("text;category\nmot de passe oublié;Access\n", encoding="utf-8")
    assert read_csv(path).labels == ["Access"]


def test_non_english_text_keeps_its_letters_and_digits() -> None:
    assert normalise("Ünïcödé 123 пароль") == "ünïcödé 123 пароль"
    assert normalise("नमस्ते, दुनिया!") == "नमस्ते दुनिया"  # combining vowel signs stay in the word
    assert normalise("Ｐａｓｓｗｏｒｄ_reset") == "password reset"
    assert readable("Пароль не работает") and readable("重置密码") and not readable("\x00\x00\x00\x00ab") and not readable("12345 !!!")


# --- the long tail ---------------------------------------------------------------------------------


def test_a_long_tailed_export_trains_and_the_report_names_the_tiny_queues_escalate_only(long_tail: Path) -> None:
    data = read_csv(long_tail)
    model = train(data, TAIL_CATALOG, source="export", min_examples=10, **QUIET)
    report = model.metrics["labels"]
    assert {"GRP_77", "GRP_78"} <= set(model.categories), "a queue with a ticket is still recognised"
    assert model.escalate_only["GRP_77"] == NOT_IN_CATALOG and model.queues["GRP_77"] == "grp_77"
    assert report["GRP_78"]["tickets"] == 2 and not report["GRP_78"]["routable"]
    assert report["GRP_79"] == report["GRP_79"] | {"tickets": 0, "without_text": 3, "routable": False}
    assert report["Printing"]["routable"] and report["Printing"]["queue"] == "print-desk" and report["Printing"]["recall"] == 1.0
    assert not report["Payroll"]["routable"] and "no skill" in report["Payroll"]["why_not"]
    assert model.trained["skipped"] == {"no text": 3, "no label": 1}
    _, features = model.read(["重置我的密码", "printer jammed"])
    assert model.knows_nothing(features).tolist() == [True, False], "readable text in words the model never learned is told apart"
    (prediction,) = model.predict(["travel visa booking flight"])  # a one-ticket queue's words are seen once: too rare to be features
    assert prediction.category == "GRP_78" and model.escalation(prediction.category) == NOT_IN_CATALOG


def test_a_category_with_fewer_tickets_than_needed_is_escalate_only(long_tail: Path) -> None:
    model = train(read_csv(long_tail), TAIL_CATALOG, source="export", min_examples=20, **QUIET)
    assert model.escalate_only["Facilities"] == "15 tickets in training; 20 needed to learn it"
    assert "Printing" not in model.escalate_only and "Network" not in model.escalate_only


def test_the_holdout_keeps_singletons_in_training_and_stratifies_the_rest() -> None:
    data = Labelled([f"t{i}" for i in range(23)], ["a"] * 20 + ["b"] * 2 + ["c"], "")
    kept, held = split(data, 0.2, seed=1)
    assert sorted(held.labels) == ["a"] * 4 and kept.labels.count("b") == 2 and "c" in kept.labels and len(kept.texts) + len(held.texts) == 23


def test_a_hundred_queues_train_and_are_routed_or_escalated_as_the_report_says() -> None:
    rng = random.Random(7)
    labels = [f"queue-{n:03d}" for n in range(100)]
    words = {label: [f"w{n}x{k}" for k in range(6)] for n, label in enumerate(labels)}
    texts, truth = [], []
    for n, label in enumerate(labels):
        for _ in range(12 if n % 10 else 4):  # every tenth queue is small
            texts.append(" ".join(rng.sample(words[label], 3) + rng.sample(VOCABULARY, 2)))
            truth.append(label)
    declared = [{"name": label, "queue": f"team-{label}"} for label in labels[:20]]
    skills = [skill(f"skill-{label}", label, " ".join(words[label][:3])) for label in labels[:20]]
    model = train(Labelled(texts, truth, "x"), catalog(*declared, skills=skills), source="synthetic", **QUIET)
    report = model.metrics["labels"]
    assert len(model.categories) == 100
    assert {label for label, row in report.items() if row["routable"]} == {label for label in labels[1:20] if label != "queue-010"}
    assert report["queue-010"]["why_not"] == "4 tickets in training; 10 needed to learn it"
    assert report["queue-050"]["why_not"] == NOT_IN_CATALOG and report["queue-050"]["queue"] == "queue-050"
    predicted = model.predict([" ".join(words[label][1:4]) for label in labels])
    assert sum(p.category == label for p, label in zip(predicted, labels, strict=True)) >= 95


# --- the catalog's labels --------------------------------------------------------------------------


def test_upstream_group_names_map_onto_a_catalog_category(tmp_path: Path) -> None:
    spec = catalog({"name": "Access", "queue": "identity-team", "labels": ["GRP_0", "GRP_12"]}, {"name": "Printing", "queue": "print-desk"})
    data = Labelled(["reset password", "unlock account", "printer jam"], ["GRP_0", "GRP_12", "Printing"], "")
    mapped = map_labels(data, spec)
    assert mapped.labels == ["Access", "Access", "Printing"] and mapped.sources == {"Access": ["GRP_0", "GRP_12"]}
    assert map_labels(mapped, spec) == mapped, "mapping twice changes nothing"


def test_a_label_under_two_categories_is_rejected_naming_both(tmp_path: Path) -> None:
    path = tmp_path / "skills.yaml"
    path.write_text(
        "categories:\n  - {name: Access, queue: identity, labels: [GRP_0]}\n  - {name: Hardware, queue: desk, labels: [GRP_0]}\n"
        "skills:\n  - {name: fix, category: Hardware, description: fix the hardware now, examples: [broken], requires: {okta: [okta.users.read]}}\n"
    )
    with pytest.raises(CatalogError, match=r"label 'GRP_0' is listed under categories 'Access' and 'Hardware'"):
        load_catalog(path)


def test_a_queue_for_an_undeclared_label_fits_the_queue_name_pattern() -> None:
    assert queue_name("GRP_12") == "grp_12" and queue_name("Service Desk (EMEA)") == "service-desk-emea" and queue_name("Réseau") == "reseau"
    assert queue_name("Поддержка").startswith("queue-")


def test_a_routable_category_no_coworker_takes_is_a_warning() -> None:
    from services.triage.settings import DEFAULT_CATALOG

    real = load_catalog(DEFAULT_CATALOG)
    workforce = load_workforce(Path(DEFAULT_CATALOG).parent / "coworkers")
    assert coverage_problems([c.name for c in real.categories], real, workforce) == []
    assert coverage_problems(["Printing"], TAIL_CATALOG, {}) == [
        "category 'Printing' is routable but no coworker manifest holds any of its skills (printer-fix); give one to a coworker (skills:) or its tickets all go to print-desk"
    ]


# --- model files and the CLI -----------------------------------------------------------------------


def test_a_model_file_from_before_escalate_only_still_loads(long_tail: Path, tmp_path: Path) -> None:
    model = train(read_csv(long_tail), TAIL_CATALOG, source="export", **QUIET)
    old = pickle.loads(pickle.dumps(model))
    del old.__dict__["escalate_only"], old.__dict__["queues"]
    joblib.dump({"format": 1, "model": old}, tmp_path / "triage-old.joblib")
    again = CategoryModel.load(tmp_path / "triage-old.joblib")
    assert again.escalate_only == {} and again.queues == {} and again.escalation("GRP_77") is None


def test_the_cli_trains_prints_the_table_and_writes_the_report(long_tail: Path, tmp_path: Path) -> None:
    catalog_file = tmp_path / "skills.yaml"
    catalog_file.write_text(json.dumps(TAIL_CATALOG.model_dump()))
    (tmp_path / "coworkers").mkdir()
    args = ["--out", str(tmp_path / "models"), "--catalog", str(catalog_file), "--holdout", "0.2", "--min-examples", "5", "--workforce", str(tmp_path / "coworkers")]
    result = CliRunner().invoke(app, ["triage", "train", "--data", str(long_tail), *args])
    assert result.exit_code == 0, result.output
    assert "warning: category 'Printing' is routable but no coworker manifest holds any of its skills" in result.output
    model = CategoryModel.load(tmp_path / "models")
    report = json.loads((tmp_path / "models" / f"report-{model.version}.json").read_text())
    assert report["labels"]["GRP_77"]["why_not"] == NOT_IN_CATALOG and report["skipped"] == {"no text": 3, "no label": 1}
    assert any(line.strip().startswith("GRP_77") and NOT_IN_CATALOG in line for line in result.output.splitlines())
    assert any(line.strip().startswith("Printing") and line.rstrip().endswith("yes") for line in result.output.splitlines())


def test_the_cli_says_what_is_wrong_with_an_export_without_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", [{"summary": "vpn down", "group": "GRP_1"}])
    result = CliRunner().invoke(app, ["triage", "train", "--data", str(path), "--out", str(tmp_path / "models")])
    assert result.exit_code == 2 and (result.exception is None or isinstance(result.exception, SystemExit))
    assert "no column 'text', 'category'; found 'summary', 'group'" in result.output and "Traceback" not in result.output
