"""The language switcher: French pages are translated, Arabic pages lay out right to left."""


def test_switching_to_arabic_lays_the_page_out_right_to_left(personas, login):
    page = login(personas["manager"])
    with page.expect_navigation():
        page.select_option("#language-select", "ar")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("html").get_attribute("lang") == "ar"
    labels = page.locator("nav.sidebar a").all_inner_texts()
    assert "السجل" in labels  # "History"
    # The menu is on the right of the content, as Arabic readers expect.
    sidebar = page.locator("nav.sidebar").bounding_box()
    main = page.locator("main").bounding_box()
    assert sidebar["x"] > main["x"]
    page.screenshot(path=str(_shots() / "home-ar.png"))


def test_switching_to_french_translates_the_navigation(personas, login):
    page = login(personas["admin"])
    with page.expect_navigation():
        page.select_option("#language-select", "fr")
    assert page.locator("html").get_attribute("dir") == "ltr"
    labels = set(page.locator("nav.sidebar a").all_inner_texts())
    assert {"Accueil", "Historique", "Utilisateurs", "Paramètres du compte"} <= labels
    sidebar = page.locator("nav.sidebar").bounding_box()
    main = page.locator("main").bounding_box()
    assert sidebar["x"] < main["x"]


def _shots():
    import os
    from pathlib import Path

    path = Path(os.environ["HERALD_DATA_DIR"]) / "screenshots"
    path.mkdir(exist_ok=True)
    return path
