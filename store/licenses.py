"""Licences a listing may carry: SPDX identifiers (lower-cased as the Hub writes them)."""

LICENSES: list[tuple[str, str]] = [
    ("apache-2.0", "Apache License 2.0"),
    ("mit", "MIT License"),
    ("bsd-3-clause", "BSD 3-Clause License"),
    ("bsd-2-clause", "BSD 2-Clause License"),
    ("cc-by-4.0", "Creative Commons Attribution 4.0"),
    ("cc-by-sa-4.0", "Creative Commons Attribution-ShareAlike 4.0"),
    ("cc-by-nc-4.0", "Creative Commons Attribution-NonCommercial 4.0"),
    ("cc0-1.0", "Creative Commons Zero 1.0"),
    ("gpl-3.0", "GNU General Public License v3.0"),
    ("lgpl-3.0", "GNU Lesser General Public License v3.0"),
    ("agpl-3.0", "GNU Affero General Public License v3.0"),
    ("mpl-2.0", "Mozilla Public License 2.0"),
    ("openrail", "Open RAIL"),
    ("llama3.1", "Llama 3.1 Community License"),
    ("gemma", "Gemma Terms of Use"),
    ("other", "Other (see the model card)"),
]
LICENSE_IDS = {spdx for spdx, _ in LICENSES}
