from hypothesis import given, settings
from hypothesis import strategies as st

from core.records import Document, Metadata, RawPage
from index.build import context_text
from ingest.chunk import ChunkParams, chunk_document, pack, section_headings, sentence_spans
from ingest.sections import assemble


def make_doc(pages: list[RawPage], markdown: bool = True, doc_id: str = "d") -> Document:
    text, spans, headings = assemble(pages, markdown=markdown)
    kind = "markdown" if markdown else "pdf"
    return Document(doc_id, "d.md", "h", kind, Metadata("T"), text, spans, headings)


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text, 0, len(text))]


def test_sentences_split_at_full_stops_but_not_abbreviations() -> None:
    text = "See e.g. the No. 35 report by Mr. Smith. It says 300 people came. “Quoted.” Next"
    assert sentences(text) == [
        "See e.g. the No. 35 report by Mr. Smith.",
        "It says 300 people came.",
        "“Quoted.”",
        "Next",
    ]


def test_numbering_at_line_start_is_not_a_sentence() -> None:
    assert sentences("2. Findings\n4.3. Shared challenges\nb. Item. Next") == [
        "2. Findings",
        "4.3. Shared challenges",
        "b. Item.",
        "Next",
    ]


def test_line_breaks_always_end_a_unit() -> None:
    assert sentences("- item one\n- item two") == ["- item one", "- item two"]


def test_pack_respects_target_and_max() -> None:
    units = [(0, 400), (401, 800), (801, 1200), (1201, 1300)]
    chunks = pack(units, ChunkParams(max_chars=1000, target_chars=850, min_chars=100))
    assert [(a, b) for a, b, _ in chunks] == [(0, 800), (801, 1300)]


def test_passages_never_cross_sections_or_pages() -> None:
    body = "Sentence number one is here. " * 10
    doc = make_doc(
        [
            RawPage(1, "1", f"1. First\n\n{body}\n\n2. Second\n\n{body}"),
            RawPage(2, "2", body),
        ],
        markdown=False,
    )
    passages = chunk_document(doc, ChunkParams(max_chars=1200, target_chars=900, min_chars=50))
    assert [(p.section, p.page) for p in passages] == [
        (("1. First",), 1),
        (("2. Second",), 1),
        (("2. Second",), 2),
    ]
    assert passages[0].text.startswith("1. First")  # a heading joins its body text


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.text(
            alphabet=st.sampled_from([*"abc DEF.!?\n#*-123“”", "ﬁ", "¹", "\u00a0", "\t"]),
            max_size=400,
        ),
        min_size=1,
        max_size=4,
    ),
    st.integers(min_value=50, max_value=400),
)
def test_every_passage_is_an_exact_span_within_bounds(pages: list[str], max_chars: int) -> None:
    doc = make_doc([RawPage(i + 1, str(i + 1), p) for i, p in enumerate(pages)], markdown=True)
    params = ChunkParams(max_chars=max_chars, target_chars=max_chars, min_chars=1)
    passages = chunk_document(doc, params)
    for p in passages:
        assert doc.text[p.char_start : p.char_end] == p.text
        assert 0 < len(p.text) <= max_chars
        assert p.text == p.text.strip()
    covered = "".join(p.text for p in passages).replace(" ", "").replace("\n", "")
    assert covered == doc.text.replace(" ", "").replace("\n", "")
    assert len({p.passage_id for p in passages}) == len(passages)


def test_passage_ids_are_stable_and_depend_on_content() -> None:
    text = "# A\n\nSome text here. More text.\n\n# B\n\nOther text."
    first = chunk_document(make_doc([RawPage(None, None, text)]))
    again = chunk_document(make_doc([RawPage(None, None, text)]))
    assert [p.passage_id for p in first] == [p.passage_id for p in again]
    edited = chunk_document(make_doc([RawPage(None, None, text.replace("Other", "Changed"))]))
    assert edited[0].passage_id == first[0].passage_id
    assert edited[1].passage_id != first[1].passage_id


def test_repeated_text_gets_distinct_ids() -> None:
    text = "# A\n\nSame words.\n\n# B\n\nSame words."
    passages = chunk_document(make_doc([RawPage(None, None, text)]))
    bodies = [p.text for p in passages]
    assert bodies.count("B\n\nSame words.") == 1
    assert len({p.passage_id for p in passages}) == len(passages)


def test_retrievers_read_whole_headings_where_citations_cut_them() -> None:
    long = (
        "Q5. In the 2019 SDG Summit declaration, Member States outlined ten priority areas "
        "for accelerated action on the Sustainable Development Goals by 2030"
    )
    body = "The answer names the priority areas one by one. " * 3
    doc = make_doc(
        [RawPage(None, None, f"# Part one\n\n## {long}\n\n{body}\n\n## Short\n\n{body}")]
    )
    passages = chunk_document(doc, ChunkParams(max_chars=600, target_chars=400, min_chars=50))
    first, second = passages
    assert first.text.startswith("Part one")  # headings join the body they open
    cut = first.section[-1]
    assert first.section[0] == "Part one" and cut.endswith("…") and len(cut) <= 121
    assert long.startswith(cut[:-1])
    # The headings over a passage's own text, whatever headings it opens with, are the
    # ones its citation names, whole.
    for p in passages:
        whole = section_headings(doc, p)
        assert len(whole) == len(p.section)
        for heading, cited in zip(whole, p.section, strict=True):
            assert heading.title.startswith(cited.rstrip("…"))
    assert [h.title for h in section_headings(doc, first)] == ["Part one", long]
    assert f"Part one › {long}\n" in context_text(doc, first)
    assert context_text(doc, second).split("\n")[1] == "Part one › Short"
