"""A faithful fake of the Cursor Cloud Agents v1 API, served over loopback HTTP."""
