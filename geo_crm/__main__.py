"""``python -m geo_crm`` is the ``geo-crm`` command."""

from .cli import main

main()
