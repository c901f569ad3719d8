"""The admin page's assets; a package so editable installs can map it."""
