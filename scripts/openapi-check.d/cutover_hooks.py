"""Schemathesis hooks for scripts/openapi-check (loaded as SCHEMATHESIS_HOOKS=cutover_hooks).

Two kinds: generators for what the document names but schemathesis cannot make by itself (files
of the accepted image types), and two narrow exceptions, each a check that cannot apply to one
parameter. Nothing else is filtered: every other finding fails the run.
"""

from hypothesis import strategies as st

import schemathesis

# The upload's `file` part must be an image of one of the types its `encoding` lists: the server
# sniffs the first bytes (src/storage/sniff.rs), so random bytes sent as image/png are rightly
# refused 415. These are the smallest heads the sniffer recognises, followed by any bytes.
HEADS = {
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00",
    "image/gif": b"GIF89a\x01\x00\x01\x00",
    "image/webp": b"RIFF\x24\x00\x00\x00WEBPVP8 ",
    "image/heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
}
for media_type, head in HEADS.items():
    schemathesis.openapi.media_type(
        media_type, st.binary(max_size=256).map(lambda tail, head=head: head + tail)
    )


@schemathesis.hook("filter_failure").apply_to(method="GET", path="/api/photos")
def keep_unless_made_up_cursor(context, failure, case, response):
    """A cursor carries an HMAC over its caller and position (src/http/api/cursor.rs): one the
    generator makes up has the documented shape and is still refused 400 `invalid cursor`, as
    docs/reference.md says. No schema can describe a signature, so positive_data_acceptance
    cannot apply to a made-up cursor; issued ones are sent through the `NextPage` link in the
    stateful phase, where a refusal does fail the run. Any other 400 (a `limit` wrongly
    refused, say) is kept."""
    if failure.code != "ST202" or response.status_code != 400:
        return True
    if not (case.query or {}).get("cursor"):
        return True
    try:
        detail = response.json().get("detail")
    except ValueError:
        return True
    return detail != "invalid cursor"


@schemathesis.hook("filter_failure").apply_to(method="POST", path="/api/uploads")
def keep_unless_extra_part_type(context, failure, case, response):
    """The form's other parts are text fields (`additionalProperties: {type: string}`); a
    negative case that gives one another JSON type (a number, an object) still reaches the
    server as text, which it is right to accept and ignore, and an array is the same field
    repeated, within the documented part count. A multipart body cannot carry the type that was
    violated, so negative_data_rejection cannot apply to it. Every other negative case of the
    form (no `file`, an empty one, too many parts, a part name with a control character) is
    kept."""
    return not (
        failure.code == "ST201"
        and "violates `type` at /additionalProperties" in failure.message
    )
