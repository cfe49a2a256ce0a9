"""Models a user can get: catalogues of published models and their verified download into the profile.

`catalogue` reads and validates catalogue files (JSON); `download` fetches one entry, checks its SHA-256
before anything is installed, and converts known checkpoint formats to a bundle. Nothing here touches the
network unless a caller asks for a download or for a catalogue at a URL.
"""
