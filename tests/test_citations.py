from core.records import DocumentInfo, Metadata, Passage
from service.citations import cite, format_reference, locator

IOM = "International Organization for Migration (IOM)"
META = Metadata(
    title="Leveraging Human Mobility in Support of the Sustainable Development Goals",
    year=2023,
    series="International Dialogue on Migration",
    number=35,
    publisher=f"{IOM}, Geneva",
    author=IOM,
)


def test_reference_is_author_date_with_series_and_short_publisher() -> None:
    assert format_reference(META) == (
        "International Organization for Migration (IOM) (2023). Leveraging Human Mobility in "
        "Support of the Sustainable Development Goals. International Dialogue on Migration, "
        "No. 35. IOM, Geneva."
    )


def test_reference_without_year_or_author_says_so() -> None:
    assert format_reference(Metadata(title="Notes.")) == "Anonymous (n.d.). Notes."


def test_locator_prefers_printed_page_and_shows_physical_when_different() -> None:
    assert locator(3, "3", ()) == "p. 3"
    assert locator(5, "iii", ()) == "p. iii (PDF p. 5)"
    assert locator(None, None, ("4. Area", "4.3 Shared challenges")) == (
        "section “4.3 Shared challenges”"
    )
    assert locator(None, None, ()) is None


def test_cite_carries_offsets_and_formatted_text() -> None:
    doc = DocumentInfo("idm-35", "idm.pdf", "pdf", "h", META, 90, 10)
    passage = Passage("p1", "idm-35", 0, "text", 10, 14, ("A", "B"), 12, "10")
    c = cite(doc, passage)
    assert (c.char_start, c.char_end, c.page, c.page_label) == (10, 14, 12, "10")
    assert c.section == "A › B"
    assert c.formatted.endswith("IOM, Geneva, p. 10 (PDF p. 12).")
