namespace KmeshCompiler.Diagnostics;

/// <summary>Codes of the Kubernetes/Istio YAML front end (semantics.md §5). docs/diagnostics.md lists
/// them with an example each.</summary>
public static partial class Codes
{
    // KM1xxx: structure.
    public static readonly DiagnosticDescriptor YamlSyntax = new("KM1001", Severity.Error, "YAML does not parse: {0}; fix the syntax at this position");
    public static readonly DiagnosticDescriptor YamlTooDeep = new("KM1002", Severity.Error, "the document is nested deeper than {0} levels; no Kubernetes object needs that, check the indentation");
    public static readonly DiagnosticDescriptor UnknownField = new("KM1003", Severity.Error, "unknown field '{0}' in {1}{2}");
    public static readonly DiagnosticDescriptor WrongType = new("KM1004", Severity.Error, "'{0}' must be {1}, not {2}{3}");
    public static readonly DiagnosticDescriptor MissingField = new("KM1005", Severity.Error, "{0} is missing '{1}'; add it");
    public static readonly DiagnosticDescriptor EmptyFromTo = new("KM1006", Severity.Error, "'{0}: []' is present but empty: an empty list is rejected by Istio; remove '{0}' or add entries");
    public static readonly DiagnosticDescriptor EmptySourceOperation = new("KM1007", Severity.Error, "'{0}' has no field; Istio rejects an empty {0}: add a field or remove the entry");
    public static readonly DiagnosticDescriptor SelectorWithTargetRef = new("KM1008", Severity.Error, "'{0}' and '{1}' are both set; a policy attaches through exactly one of selector, targetRef and targetRefs: remove one");
    public static readonly DiagnosticDescriptor ServiceAccountsWithIdentity = new("KM1009", Severity.Error, "'{0}' cannot be combined with '{1}' in one source; put them in separate 'from' entries");
    public static readonly DiagnosticDescriptor SkippedKind = new("KM1010", Severity.Info, "{0} '{1}' is not used by this compiler and is skipped");
    public static readonly DiagnosticDescriptor NotAnObject = new("KM1011", Severity.Error, "a Kubernetes object must be a mapping with apiVersion, kind and metadata, not {0}");
    public static readonly DiagnosticDescriptor UnsupportedApiVersion = new("KM1012", Severity.Error, "{0} has apiVersion '{1}'; use {2}");
    public static readonly DiagnosticDescriptor DuplicateKey = new("KM1013", Severity.Error, "key '{0}' appears twice in this mapping (first on line {1}); YAML keeps only one of them, remove the other");
    public static readonly DiagnosticDescriptor DocumentTooLarge = new("KM1014", Severity.Error, "the document expands to more than {0} nodes (aliases included; the limit is 16 per character of the text plus 1024); remove the repeated aliases");
    public static readonly DiagnosticDescriptor NoObjects = new("KM1015", Severity.Error, "no Kubernetes objects in this input; an empty file is probably a mistake: add objects or remove the file");
    public static readonly DiagnosticDescriptor ComplexKey = new("KM1016", Severity.Error, "a mapping key must be a plain string, not {0}");
    public static readonly DiagnosticDescriptor UnsupportedKind = new("KM1017", Severity.Info, "{0} '{1}' is recognised but not translated yet; it has no effect on the result");
    public static readonly DiagnosticDescriptor BadSuppression = new("KM1019", Severity.Warning, "kmesh.io/suppress lists '{0}', which is not a diagnostic code; write codes like KM4013, separated by commas");
    public static readonly DiagnosticDescriptor UnresolvedAlias = new("KM1018", Severity.Error, "alias '*{0}' refers to no anchor defined before it; define '&{0}' first");

    // KM2xxx: values.
    public static readonly DiagnosticDescriptor BadPort = new("KM2001", Severity.Error, "'{0}' is not a port: write a decimal number from 0 to 65535 (no names, ranges or signs)");
    public static readonly DiagnosticDescriptor BadIp = new("KM2002", Severity.Error, "'{0}' is not an IP address or CIDR: {1}");
    public static readonly DiagnosticDescriptor EmptyString = new("KM2003", Severity.Error, "empty string in '{0}'; it can never match: remove it or write the value");
    public static readonly DiagnosticDescriptor LabelWildcard = new("KM2004", Severity.Error, "wildcard '*' in the selector label {0} '{1}'; selectors match labels exactly: write the label in full");
    public static readonly DiagnosticDescriptor EmptyLabelKey = new("KM2005", Severity.Error, "empty label key in the selector; write the label name");
    public static readonly DiagnosticDescriptor BadServiceAccount = new("KM2006", Severity.Error, "'{0}' is not a service account: write 'namespace/name' or 'name' ({1})");
    public static readonly DiagnosticDescriptor BadTrustDomain = new("KM2007", Severity.Error, "trust domain '{0}': a wildcard is only allowed as '*', a leading '*' or a trailing '*'");
    public static readonly DiagnosticDescriptor BadTrafficDistribution = new("KM2008", Severity.Error, "'{0}' is not a traffic distribution: use PreferClose, PreferSameZone or PreferSameNode");
    public static readonly DiagnosticDescriptor BadInternalTrafficPolicy = new("KM2009", Severity.Error, "'{0}' is not an internal traffic policy: use Cluster or Local");
    public static readonly DiagnosticDescriptor BadObjectIp = new("KM2010", Severity.Error, "{0} '{1}' is not an IP address: {2}");
    public static readonly DiagnosticDescriptor BadTargetPort = new("KM2011", Severity.Error, "targetPort '{0}' is neither a port number (1-65535) nor a port name (up to 15 lowercase letters, digits and '-')");
    public static readonly DiagnosticDescriptor BadNumber = new("KM2012", Severity.Error, "'{0}' must be {1}, not '{2}'");
    public static readonly DiagnosticDescriptor BadName = new("KM2013", Severity.Error, "'{0}' is not a valid {1} name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit");

    // KM3xxx: actions and conditions.
    public static readonly DiagnosticDescriptor UnknownAction = new("KM3001", Severity.Error, "'{0}' is not an action: use ALLOW, DENY, AUDIT or CUSTOM");
    public static readonly DiagnosticDescriptor DenyWithoutRules = new("KM3002", Severity.Error, "a DENY policy without rules denies nothing; add rules (an empty rule '- {}' denies everything)");
    public static readonly DiagnosticDescriptor CustomWithoutRules = new("KM3003", Severity.Error, "a CUSTOM policy without rules never calls its provider; add rules");
    public static readonly DiagnosticDescriptor CustomWithoutProvider = new("KM3004", Severity.Error, "a CUSTOM policy needs 'provider.name' naming an extension provider; add it");
    public static readonly DiagnosticDescriptor ProviderWithoutCustom = new("KM3005", Severity.Error, "'provider' is only allowed with action CUSTOM; remove it or set action: CUSTOM");
    public static readonly DiagnosticDescriptor CustomWithIdentity = new("KM3006", Severity.Error, "a CUSTOM policy cannot use '{0}' (identity fields are not available to external authorizers); remove it");
    public static readonly DiagnosticDescriptor DryRunNotBool = new("KM3007", Severity.Error, "istio.io/dry-run is '{0}', not a boolean: use \"true\" or \"false\"");
    public static readonly DiagnosticDescriptor DryRunOnAuditCustom = new("KM3008", Severity.Error, "istio.io/dry-run is not supported with action {0}; remove the annotation");
    public static readonly DiagnosticDescriptor WhenMissingKey = new("KM3009", Severity.Error, "a 'when' condition needs a 'key'; add one such as source.ip or destination.port");
    public static readonly DiagnosticDescriptor WhenNoValues = new("KM3010", Severity.Error, "condition '{0}' has neither 'values' nor 'notValues'; add one of them");
    public static readonly DiagnosticDescriptor WhenDestinationKey = new("KM3011", Severity.Error, "'{0}' is not a condition key: {1}");
    public static readonly DiagnosticDescriptor WhenUnknownKey = new("KM3012", Severity.Error, "unknown attribute '{0}'{1}; the L4 keys are source.ip, source.namespace, source.principal, destination.ip and destination.port");
    public static readonly DiagnosticDescriptor WhenBadBracket = new("KM3013", Severity.Error, "'{0}': a bracketed key needs a non-empty name and a closing ']' at the end, like request.headers[x-user]");

    // KM4xxx: ambient lints.
    public static readonly DiagnosticDescriptor TargetRefNotEnforced = new("KM4001", Severity.Info, "this policy uses '{0}', so only waypoints enforce it; it is excluded from this data plane");
    public static readonly DiagnosticDescriptor ActionNotEnforced = new("KM4002", Severity.Warning, "action {0} is not enforced at L4; the policy is excluded from this data plane");
    public static readonly DiagnosticDescriptor DryRunExcluded = new("KM4003", Severity.Warning, "istio.io/dry-run is true and dry-run support is off, so the policy is excluded (ambient ignores it); pass --enable-dry-run to evaluate it without enforcing");
    public static readonly DiagnosticDescriptor L7RuleDropped = new("KM4004", Severity.Warning, "{0} of this ALLOW policy uses L7 attributes ({1}) that cannot be enforced at L4; the whole rule is dropped, its L4 parts included, so it allows nothing");
    public static readonly DiagnosticDescriptor L7PartRemoved = new("KM4005", Severity.Warning, "{0} of this DENY policy uses L7 attributes ({1}); they are removed and the rule is enforced on its L4 part only, so it denies more than written");
    public static readonly DiagnosticDescriptor L7RuleNoEffect = new("KM4006", Severity.Warning, "{0} of this DENY policy uses L7 attributes ({1}); without them a condition of the rule can never hold, so the rule has no effect at L4");
    public static readonly DiagnosticDescriptor SpiffePrincipal = new("KM4007", Severity.Warning, "principal '{0}' starts with spiffe://; identities are compared without that prefix, so it never matches: write '{1}'");
    public static readonly DiagnosticDescriptor LiteralStar = new("KM4008", Severity.Warning, "'{0}': only a leading or trailing '*' is a wildcard; this value keeps a literal '*' and can never match a real name");
    public static readonly DiagnosticDescriptor EmptySelector = new("KM4009", Severity.Warning, "'selector: {}' has no labels: in ambient this policy attaches to NO workload (sidecars would apply it to the whole namespace); remove the selector to cover the namespace, or add matchLabels");
    public static readonly DiagnosticDescriptor TrustDomainsIgnored = new("KM4010", Severity.Warning, "'{0}' is ignored by ambient; the source behaves as if it were absent{1}");
    public static readonly DiagnosticDescriptor WhenSidecarOnlyKey = new("KM4011", Severity.Warning, "'{0}' is supported by sidecars but not at L4 in ambient; use {1} instead");
    public static readonly DiagnosticDescriptor ServicePortNotTarget = new("KM4012", Severity.Warning, "port {0} is the service port of {1}, but policies see the workload's target port; the selected workloads listen on {2}: write {2}");
    public static readonly DiagnosticDescriptor SelectsNothing = new("KM4013", Severity.Warning, "this policy applies to no workload in the inputs: {0}");
    public static readonly DiagnosticDescriptor UnknownNamespace = new("KM4014", Severity.Warning, "namespace '{0}' does not exist in the inputs; check the spelling");
    public static readonly DiagnosticDescriptor AllowsNothing = new("KM4015", Severity.Warning, "every rule of this ALLOW policy is dropped at L4, so it allows nothing and denies all traffic to the workloads it applies to; split the L7 parts into a waypoint policy");
    public static readonly DiagnosticDescriptor AllowNoRules = new("KM4016", Severity.Info, "this ALLOW policy has no rules: it allows nothing, so it denies all traffic to the workloads it applies to (the 'allow-nothing' idiom)");
    public static readonly DiagnosticDescriptor DryRunKept = new("KM4017", Severity.Info, "dry-run policy: evaluated and reported, never enforced");
    public static readonly DiagnosticDescriptor NamedPortUnresolved = new("KM4018", Severity.Warning, "service port {0} targets the port named '{1}', which {2} not declare; such pods get no endpoint for this port: add the named container port");
    public static readonly DiagnosticDescriptor PodWithoutIp = new("KM4019", Severity.Info, "pod '{0}' has no IP address (status.podIP); it becomes a workload that no connection can reach");
    public static readonly DiagnosticDescriptor UnknownNode = new("KM4020", Severity.Info, "pod '{0}' runs on node '{1}', which is not in the inputs; its locality is empty: add the Node object");
    public static readonly DiagnosticDescriptor TerminalPod = new("KM4021", Severity.Info, "pod '{0}' is {1}; istiod builds no workload for it");
    public static readonly DiagnosticDescriptor SelectsOnlyNotEnforced = new("KM4023", Severity.Warning, "this policy applies only to workloads the mesh does not enforce ({0}), so it has no effect: {1}");
    public static readonly DiagnosticDescriptor HostNetworkIdentity = new("KM4024", Severity.Warning, "{0} is held only by host-network pods ({1}); their traffic is not captured and arrives as plaintext from the node's address, so this never matches: allow the node address with ipBlocks instead");
    public static readonly DiagnosticDescriptor UnknownTrafficAnnotation = new("KM4022", Severity.Warning, "networking.istio.io/traffic-distribution '{0}' is not a known value (PreferClose, PreferSameZone, PreferSameNode); it is ignored");
}
