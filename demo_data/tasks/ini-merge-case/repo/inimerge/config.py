"""The merged configuration."""

from __future__ import annotations


class Config:
    def __init__(self) -> None:
        self._sections: dict[str, dict[str, str]] = {}

    def add_section(self, name: str) -> None:
        self._sections.setdefault(name, {})

    def sections(self) -> list[str]:
        return list(self._sections)

    def options(self, section: str) -> dict[str, str]:
        return dict(self._sections[section])

    def set(self, section: str, option: str, value: str) -> None:
        self.add_section(section)
        self._sections[section][option] = value

    def get(self, section: str, option: str, default: str | None = None) -> str | None:
        return self._sections.get(section, {}).get(option.strip().lower(), default)

    def to_text(self) -> str:
        out = []
        for name, options in self._sections.items():
            out.append(f"[{name}]")
            out.extend(f"{key} = {value}" for key, value in options.items())
            out.append("")
        return "\n".join(out)
