"""Links in message texts: found where they are, and measured as the short links they become."""

from __future__ import annotations

from flows.links import as_sent, find_links, replace_links, short_link_length


def found(text: str) -> list[str]:
    return [text[start:end] for start, end in find_links(text)]


def test_links_end_before_the_punctuation_that_ends_a_sentence() -> None:
    assert found("Cart: https://shop.example/c/42. Reply YES") == ["https://shop.example/c/42"]
    assert found("(see http://a.example/x), then https://b.example/?q=1&r=2!") == [
        "http://a.example/x",
        "https://b.example/?q=1&r=2",
    ]
    assert found("https://en.wikipedia.org/wiki/Foo_(bar) is it") == [
        "https://en.wikipedia.org/wiki/Foo_(bar)"
    ]
    assert found("HTTPS://LOUD.EXAMPLE/A") == ["HTTPS://LOUD.EXAMPLE/A"]


def test_what_is_not_a_link_is_left_alone() -> None:
    assert found("no links: ftp://x.example, www.example.com, http:// alone") == []
    assert replace_links("Hi http:// there", lambda url: "X") == "Hi http:// there"


def test_a_text_as_sent_has_short_links_in_place_of_its_links() -> None:
    base = "https://go.example"
    assert short_link_length(base) == len("https://go.example/l/") + 11
    text = "Look: https://shop.example/a/very/long/path?with=query&and=more#frag."
    sent = as_sent(text, base)
    assert len(sent) == len("Look: ") + short_link_length(base) + 1
    assert short_link_length(None) == short_link_length("https://sms.example.co.uk")


def test_flows_check_measures_short_links_on_the_base_it_is_given(tmp_path) -> None:
    from flows.definition import check

    text = "x" * 120 + " https://a.example/s"  # 140 as written
    path = tmp_path / "j.yaml"
    path.write_text(f'id: j\nsteps:\n  - {{id: a, send: "{text}"}}\n')
    assert check(path, warnings=True, link_base="https://go.example") == []  # 120 + 33
    long_base = "https://links.a-rather-long-business-name.example.com"
    (warning,) = check(path, warnings=True, link_base=long_base)
    assert warning.is_warning and "costs 2 SMS segments" in warning.message
