"""Slugs."""

from __future__ import annotations

from slugkit.text import hyphenate, to_ascii


def slugify(text: str, max_length: int | None = None, separator: str = "-") -> str:
    slug = hyphenate(to_ascii(text), separator)
    if max_length is not None and len(slug) > max_length:
        cut = slug[:max_length]
        if separator in cut and slug[max_length] != separator:
            cut = cut.rsplit(separator, 1)[0]
        slug = cut.strip(separator)
    return slug


def unique_slug(text: str, taken: set[str], **options) -> str:
    base = slugify(text, **options) or "untitled"
    slug, n = base, 2
    while slug in taken:
        slug = f"{base}-{n}"
        n += 1
    return slug
