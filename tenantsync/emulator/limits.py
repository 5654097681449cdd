"""Size limits on what a client sends: request body, query string, $filter, property lengths.

Hostile or broken input must get Graph's error shapes (400, 413), never a 500 and never be stored:
a 50 MB displayName held in memory and served to many readers exhausts the machine.

Sources:
- "Microsoft Graph error responses and resource types": 413 Request Entity Too Large, "The request
  size exceeds the maximum limit."; the detailed codes include maxQueryLengthExceeded ("Max query
  length exceeded.") and parameterIsTooLong.
- Graph does not give one request-size figure for directory calls; 4 MB is the size Microsoft's
  pages give for one request elsewhere ("Attach large files to Outlook messages": a file under 3 MB
  in one POST, the rest through an upload session; Microsoft Q&A "Graph API - user: sendMail -
  Request size limit": about 4 MB, 413 above). The emulator answers 413 above 4 MiB.
- The user resource type (v1.0) gives "Maximum length is N characters" for the string properties
  below; the group resource type gives 256 for displayName and 64 for mailNickname. Graph refuses
  a longer value with 400 "Invalid value specified for property 'X' of resource 'User'.".
- $filter: Graph does not document a length or depth; OData's URI parser refuses too deep
  expressions ("The recursion limit has been exceeded."). The emulator's bounds are far above
  what tenantsync sends (50 ids in a delta filter, user-delta: "There is a limit of 50 filtered
  objects") and keep the recursive parser and evaluator far from Python's recursion limit.
"""

from __future__ import annotations

MAX_BODY_BYTES = 4 * 1024 * 1024          # 413 above this, before the body is read whole
MAX_QUERY_CHARS = 16 * 1024               # the decoded query string of one request
MAX_FILTER_CHARS = 8 * 1024               # one $filter
MAX_FILTER_TERMS = 200                    # comparisons and functions in one $filter
MAX_FILTER_DEPTH = 32                     # nested parentheses, not, any()/all()

# user resource type (v1.0), "Maximum length is N characters".
USER_MAX_LENGTHS: dict[str, int] = {
    "city": 128, "companyName": 64, "country": 128, "department": 64, "displayName": 256,
    "givenName": 64, "jobTitle": 128, "mailNickname": 64, "mobilePhone": 64, "postalCode": 40,
    "state": 128, "streetAddress": 1024, "surname": 64,
}
# group resource type (v1.0).
GROUP_MAX_LENGTHS: dict[str, int] = {"displayName": 256, "mailNickname": 64}

TOO_LARGE_CODE = "RequestEntityTooLarge"
TOO_LARGE_MESSAGE = "The request size exceeds the maximum limit."

