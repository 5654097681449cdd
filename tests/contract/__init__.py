"""Contract tests: request/response examples from Microsoft's Graph v1.0 documentation.

Each case names the page it is transcribed from (microsoftgraph/microsoft-graph-docs-contrib:
api-reference/v1.0/api/<page>.md, concepts/<page>.md) and sends the documented request to the
emulator, asserting the documented status, shape and semantics.
"""
