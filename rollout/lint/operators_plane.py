"""cfn-lint rules for cutover's operators' plane (rollout/README.md, SECURITY.md).

cfn-lint checks that the templates are valid CloudFormation; these rules check that they keep
what the security review relies on, so that an edit that reopens the admin listener, turns its
sign-in off or lets the service rewrite its audit trail fails `scripts/test` like any other lint.
`.cfnlintrc.yaml` at the repository's root appends them to every `cfn-lint` run from there.
"""

from cfnlint.rules import CloudFormationLintRule, RuleMatch

ADMIN_PORT = 9090
AUDIT_PARTITION = "AUDIT"
AUDIT_WRITES = {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def _ref_name(value):
    """The logical id a Ref or GetAtt points at, or None."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return att[0] if isinstance(att, list) else str(att).split(".")[0]
    return None


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _port_range_covers(rule, port):
    try:
        low, high = int(rule.get("FromPort", -1)), int(rule.get("ToPort", -1))
    except (TypeError, ValueError):
        return False
    if rule.get("IpProtocol") in ("-1", -1):
        return True
    return low <= port <= high or low == -1


def _containers(cfn):
    for name, res in cfn.get_resources(["AWS::ECS::TaskDefinition"]).items():
        props = res.get("Properties", {})
        for i, container in enumerate(props.get("ContainerDefinitions", [])):
            env = {
                e.get("Name"): e.get("Value")
                for e in container.get("Environment", [])
                if isinstance(e, dict)
            }
            yield name, i, props, env


class AdminPortFromTheLoadBalancerOnly(CloudFormationLintRule):
    """The admin listener is reached through the load balancer's console rule only."""

    id = "E9101"
    shortdesc = "Admin port open to an address range"
    description = (
        f"Port {ADMIN_PORT} (cutover's admin listener) may be admitted from a security group "
        "(the load balancer's), never from a CIDR or prefix list"
    )
    source_url = "rollout/README.md"
    tags = ["cutover", "security"]

    def match(self, cfn):
        matches = []
        rules = []
        for name, res in cfn.get_resources(["AWS::EC2::SecurityGroup"]).items():
            for i, rule in enumerate(res.get("Properties", {}).get("SecurityGroupIngress", [])):
                rules.append((["Resources", name, "Properties", "SecurityGroupIngress", i], rule))
        for name, res in cfn.get_resources(["AWS::EC2::SecurityGroupIngress"]).items():
            rules.append((["Resources", name, "Properties"], res.get("Properties", {})))
        for path, rule in rules:
            if not isinstance(rule, dict) or not _port_range_covers(rule, ADMIN_PORT):
                continue
            for key in ("CidrIp", "CidrIpv6", "SourcePrefixListId"):
                if key in rule:
                    matches.append(
                        RuleMatch(
                            path + [key],
                            f"port {ADMIN_PORT} (the admin listener) admitted from {key}: "
                            "admit the load balancer's security group only",
                        )
                    )
        return matches


class AdminTargetGroupBehindTheConsoleHostOnly(CloudFormationLintRule):
    """Only the console's host name forwards to the admin listener."""

    id = "E9102"
    shortdesc = "Admin listener reachable without the console's host rule"
    description = (
        f"A target group on port {ADMIN_PORT} may be forwarded to only by a listener rule "
        "with a host-header condition, never by a listener's default action"
    )
    source_url = "rollout/README.md"
    tags = ["cutover", "security"]

    @staticmethod
    def _targets(actions):
        for action in _as_list(actions or []):
            if not isinstance(action, dict):
                continue
            yield _ref_name(action.get("TargetGroupArn"))
            for tg in action.get("ForwardConfig", {}).get("TargetGroups", []):
                yield _ref_name(tg.get("TargetGroupArn"))

    def match(self, cfn):
        matches = []
        admin = {
            name
            for name, res in cfn.get_resources(["AWS::ElasticLoadBalancingV2::TargetGroup"]).items()
            if str(res.get("Properties", {}).get("Port")) == str(ADMIN_PORT)
        }
        if not admin:
            return matches
        for name, res in cfn.get_resources(["AWS::ElasticLoadBalancingV2::Listener"]).items():
            if admin & set(self._targets(res.get("Properties", {}).get("DefaultActions"))):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", "DefaultActions"],
                        "a listener's default action forwards to the admin listener: every "
                        "host name would reach it",
                    )
                )
        for name, res in cfn.get_resources(["AWS::ElasticLoadBalancingV2::ListenerRule"]).items():
            props = res.get("Properties", {})
            if not admin & set(self._targets(props.get("Actions"))):
                continue
            hosts = [
                c
                for c in props.get("Conditions", [])
                if isinstance(c, dict) and c.get("Field") == "host-header"
            ]
            if not hosts:
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", "Conditions"],
                        "a rule forwards to the admin listener without a host-header "
                        "condition: only the console's host name may reach it",
                    )
                )
        return matches


class AdminSignInStaysOn(CloudFormationLintRule):
    """A deployed service never turns the admin listener's sign-in off."""

    id = "E9103"
    shortdesc = "CUTOVER_ADMIN_AUTH other than on"
    description = "CUTOVER_ADMIN_AUTH=off is for a laptop; a task definition keeps it on"
    source_url = "SECURITY.md"
    tags = ["cutover", "security"]

    def match(self, cfn):
        matches = []
        for name, i, _, env in _containers(cfn):
            value = env.get("CUTOVER_ADMIN_AUTH", "on")
            if value != "on":
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", "ContainerDefinitions", i, "Environment"],
                        f"CUTOVER_ADMIN_AUTH is {value!r}: the admin listener faces the load "
                        "balancer, keep it 'on'",
                    )
                )
        return matches


class AuditTrailAppendOnly(CloudFormationLintRule):
    """The role of a service on the AWS backend cannot change or delete audit items."""

    id = "E9104"
    shortdesc = "Audit trail not append-only by IAM"
    description = (
        "The task role of a CUTOVER_STORAGE=aws service carries a Deny of "
        + ", ".join(sorted(AUDIT_WRITES))
        + f" with ForAnyValue:StringEquals dynamodb:LeadingKeys [{AUDIT_PARTITION}]"
    )
    source_url = "SECURITY.md"
    tags = ["cutover", "security"]

    @staticmethod
    def _denies_audit_writes(document):
        denied = set()
        for statement in _as_list((document or {}).get("Statement", [])):
            if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
                continue
            condition = statement.get("Condition", {}).get("ForAnyValue:StringEquals", {})
            if AUDIT_PARTITION not in _as_list(condition.get("dynamodb:LeadingKeys", [])):
                continue
            denied |= set(_as_list(statement.get("Action", [])))
        return AUDIT_WRITES <= denied

    def match(self, cfn):
        matches = []
        resources = cfn.get_resources()
        for name, i, props, env in _containers(cfn):
            if env.get("CUTOVER_STORAGE") != "aws":
                continue
            role = resources.get(_ref_name(props.get("TaskRoleArn")), {})
            role_props = role.get("Properties", {})
            documents = [p.get("PolicyDocument") for p in role_props.get("Policies", [])]
            for arn in role_props.get("ManagedPolicyArns", []):
                policy = resources.get(_ref_name(arn), {})
                if policy.get("Type") == "AWS::IAM::ManagedPolicy":
                    documents.append(policy.get("Properties", {}).get("PolicyDocument"))
            if not any(self._denies_audit_writes(d) for d in documents):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", "TaskRoleArn"],
                        "the task role can change or delete the audit trail's items: give it "
                        f"a Deny of {', '.join(sorted(AUDIT_WRITES))} where "
                        f"ForAnyValue:StringEquals dynamodb:LeadingKeys is {AUDIT_PARTITION}",
                    )
                )
        return matches
