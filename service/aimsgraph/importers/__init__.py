"""Importers: records written in other vocabularies turned into aimsgraph terms.

``atlas`` loads MITRE ATLAS (tactics, techniques, mitigations); ``airo`` maps an AIRO
description of AI systems and their risks onto the aimsgraph ontology, with a report of what
mapped and what did not.
"""
