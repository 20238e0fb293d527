"""Flask-WTF's CSRF protection, applied by the access policy rather than to every request.

``WTF_CSRF_CHECK_DEFAULT`` is off: :func:`geo_crm.auth.policy.enforce` calls ``csrf.protect()``
for every state change that a cookie authenticates (and for the public sign-in form), and skips
Bearer-token requests. Pages put ``{{ csrf_token() }}`` in forms or in
``<meta name="csrf-token">`` for ``fetch`` (header ``X-CSRFToken``).
"""

from __future__ import annotations

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
