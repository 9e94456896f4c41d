from slugkit import slugify, unique_slug


def test_basic():
    assert slugify("Hello, World!") == "hello-world"


def test_symbols_are_dropped_and_output_is_ascii():
    slug = slugify("I \u2665 tea \u2615 & cake")
    assert slug == "i-tea-cake"
    assert slug.isascii()


def test_max_length_cuts_at_word_boundary():
    assert slugify("A long title", max_length=8) == "a-long"


def test_custom_separator():
    assert slugify("Hello World", separator="_") == "hello_world"


def test_unique_slug():
    assert unique_slug("Post", {"post", "post-2"}) == "post-3"
    assert unique_slug("!!!", set()) == "untitled"
