"""IAM's and STS's quotas and defaults, as AWS documents them: this plugin's own, apart
from Lambda's (:mod:`lambdalab.limits`), as each service plugin keeps its own.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
"""

#: Access keys per user.
ACCESS_KEYS_PER_USER = 2
#: A role's trust policy: at most 2,048 characters (the default quota).
TRUST_POLICY_MAX_CHARS = 2048
#: A customer managed policy: at most 6,144 characters.
MANAGED_POLICY_MAX_CHARS = 6144
#: Inline policies of a role (all together): 10,240 characters; of a user: 2,048.
ROLE_INLINE_POLICIES_MAX_CHARS = 10_240
USER_INLINE_POLICIES_MAX_CHARS = 2048
#: A group's inline policies: 5,120 characters together.
GROUP_INLINE_POLICIES_MAX_CHARS = 5120
#: AssumeRole's session policies: the inline one at most 2,048 characters, at most 10
#: managed ones (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
SESSION_POLICY_MAX_CHARS = 2048
SESSION_POLICY_ARNS_MAX = 10
#: Versions one managed policy keeps.
POLICY_VERSIONS_MAX = 5
#: Managed policies attached to one role or user.
ATTACHED_POLICIES_MAX = 10
#: A role's MaxSessionDuration: 1 hour by default, 1 to 12 hours.
MAX_SESSION_DURATION_DEFAULT_S = 3600
#: AssumeRole's DurationSeconds: 15 minutes up to the role's MaxSessionDuration, 1 hour
#: by default (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
SESSION_DURATION_MIN_S = 900
SESSION_DURATION_DEFAULT_S = 3600
#: List operations' page when MaxItems is not given.
LIST_MAX_ITEMS_DEFAULT = 100
#: The account AWS managed policies belong to: ``arn:aws:iam::aws:policy/…``.
AWS_MANAGED_ACCOUNT = "aws"
#: How long an expired session's record is kept, so its key is answered ExpiredToken
#: (not taken for an unknown key) for a while; older ones are deleted.
EXPIRED_SESSION_KEPT_S = 86_400
