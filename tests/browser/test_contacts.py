"""A manager uploads a CSV, maps its columns, watches the import reach 100 % and downloads the
rejected rows, in Chromium, with the worker running the import in the background."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from herald.contacts.models import ListMember

DATA = Path(__file__).resolve().parents[1] / "data" / "contacts"


def test_a_manager_imports_a_csv_and_downloads_the_rejected_rows(
    mike, login, live_server, worker, tmp_path
):
    page = login(mike)
    page.locator("nav.sidebar").get_by_role("link", name="Contact lists").click()
    page.fill("#id_name", "Spring newsletter")
    page.get_by_role("button", name="Create list").click()
    page.set_input_files("#id_file", str(DATA / "rejects.csv"))
    page.get_by_role("button", name="Upload").click()

    mapping = page.get_by_test_id("mapping")
    assert "good@example.com" in mapping.inner_text()  # the preview of the first rows
    page.get_by_label("amount").select_option("field:number")
    page.get_by_label("birthday").select_option("field:date")
    page.get_by_role("button", name="Start the import").click()

    page.wait_for_selector("[data-status=done]", timeout=30_000)
    assert page.get_by_test_id("percent").inner_text() == "100 %"
    assert page.locator("progress").get_attribute("value") == "100"
    assert "4 imported" in page.get_by_test_id("summary").inner_text()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the rejected rows (CSV)").click()
    target = tmp_path / "rejected.csv"
    download_info.value.save_as(target)
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert rows[0] == ["line", "reason", "detail", "raw"]
    assert [r[0] for r in rows[1:]] == ["3", "4", "5", "7", "8", "9"]
    assert {r[1] for r in rows[1:]} >= {
        "invalid address",
        "missing required field",
        "bad number or date",
    }
    assert ListMember.objects.filter(contact_list__name="Spring newsletter").count() == 4
