"""Text that goes into an XML answer (S3's, SQS's query protocol).

XML 1.0 cannot carry most control characters, not even escaped
(https://www.w3.org/TR/xml/#charsets), and an error message quotes what the client sent:
a key or a parameter with a ``\\x08`` in it would make the whole answer unreadable to
botocore's parser. Such characters are replaced with U+FFFD.
"""

from __future__ import annotations

import re

_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot carry replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


__all__ = ["xml_text"]
