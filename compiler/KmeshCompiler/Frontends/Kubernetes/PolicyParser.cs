using System.Collections.Immutable;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Kubernetes;

/// <summary>Reads and validates one AuthorizationPolicy and translates it the way istiod does for ambient
/// (semantics.md §2): which policies count, scope, rule → clauses (to, from, one per when), the three L7
/// outcomes, value conversion. Selector attachment needs the whole world and happens in
/// <see cref="WorldBuilder"/>.</summary>
internal sealed partial class PolicyParser(ObjectReader r, FrontendSettings settings, Meta meta)
{
    public const string DryRunAnnotation = "istio.io/dry-run";

    private static readonly string[] SpecFields = ["selector", "targetRef", "targetRefs", "rules", "action", "provider"];
    private static readonly string[] RuleFields = ["from", "to", "when"];
    private static readonly string[] FromFields = ["source"];
    private static readonly string[] ToFields = ["operation"];
    private static readonly string[] SourceFields =
    [
        "principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces", "notNamespaces",
        "ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks", "serviceAccounts", "notServiceAccounts",
        "trustDomains", "notTrustDomains",
    ];
    private static readonly string[] OperationFields = ["hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths"];
    private static readonly string[] ConditionFields = ["key", "values", "notValues"];
    private static readonly string[] SelectorFields = ["matchLabels"];
    private static readonly string[] TargetRefFields = ["group", "kind", "name", "namespace"];
    private static readonly string[] ProviderFields = ["name"];
    private static readonly string[] IdentityFields = ["principals", "notPrincipals", "namespaces", "notNamespaces", "serviceAccounts", "notServiceAccounts"];

    /// <summary>The five keys ambient enforces at L4.</summary>
    public static readonly string[] L4WhenKeys = ["source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port"];

    /// <summary>Keys Istio accepts that are L7 for ambient (a warning, not an error).</summary>
    public static readonly string[] L7WhenKeys =
    [
        "source.serviceAccount", "source.trustDomain", "remote.ip", "connection.sni", "request.auth.principal",
        "request.auth.audiences", "request.auth.presenter",
    ];

    private static readonly string[] BracketedWhenKeys = ["request.headers", "request.auth.claims"];
    private const string EnvoyFilterPrefix = "experimental.envoy.filters.";

    private readonly List<PortMention> _ports = new();
    private readonly List<NamespaceMention> _namespaces = new();
    private string _actionName = "ALLOW";

    public PolicyModel? Read(YMap m)
    {
        int errors = r.Errors;
        var spec = r.Map(m["spec"], "spec") ?? new YMap(m.Location);
        r.Fields(spec, "AuthorizationPolicy spec", SpecFields);

        // Action.
        _actionName = "ALLOW";
        if (spec["action"] is { } actionNode && r.String(actionNode, "spec.action") is { } a)
        {
            if (a is "ALLOW" or "DENY" or "AUDIT" or "CUSTOM") _actionName = a;
            else r.Report(Codes.UnknownAction, actionNode.Location, a);
        }
        bool enforcedAction = _actionName is "ALLOW" or "DENY";
        var action = _actionName == "DENY" ? PolicyAction.Deny : PolicyAction.Allow;

        // Attachment: selector, targetRef, targetRefs are mutually exclusive.
        var attachKeys = new[] { "selector", "targetRef", "targetRefs" }
            .Where(k => spec[k] is { } n && !(n is YScalar { IsNull: true }))
            .Select(k => spec.KeyNode(k)!).ToList();
        for (int i = 1; i < attachKeys.Count; i++)
            r.Report(Codes.SelectorWithTargetRef, attachKeys[i].Location, attachKeys[0].Value, attachKeys[i].Value);
        Labels? matchLabels = null;
        SourceLocation targetLoc = m.Location;
        if (spec.KeyNode("selector") is { } selKey && r.Map(spec["selector"], "spec.selector") is { } sel)
        {
            r.Fields(sel, "selector", SelectorFields);
            targetLoc = selKey.Location;
            matchLabels = Selector(sel, selKey);
        }
        bool targetRef = false;
        if (r.Map(spec["targetRef"], "spec.targetRef") is { } tr)
        {
            r.Fields(tr, "targetRef", TargetRefFields);
            targetRef = true;
        }
        if (r.List(spec["targetRefs"], "spec.targetRefs") is { } trs)
        {
            for (int i = 0; i < trs.Items.Count; i++)
                if (r.Map(trs.Items[i], $"spec.targetRefs[{i}]") is { } t) r.Fields(t, "targetRef", TargetRefFields);
            targetRef = true;
        }

        // Provider (CUSTOM only).
        var provider = r.Map(spec["provider"], "spec.provider");
        string? providerName = null;
        if (provider is not null)
        {
            r.Fields(provider, "provider", ProviderFields);
            providerName = r.String(provider["name"], "spec.provider.name");
            if (_actionName != "CUSTOM") r.Report(Codes.ProviderWithoutCustom, spec.KeyNode("provider")!.Location);
        }

        // Rules.
        var rulesNode = spec["rules"];
        var rules = r.List(rulesNode, "spec.rules");
        bool hasRules = rules is { Items.Count: > 0 };
        var actionLoc = spec.KeyNode("action")?.Location ?? spec.Location;
        if (!hasRules && _actionName == "DENY") r.Report(Codes.DenyWithoutRules, actionLoc);
        if (_actionName == "CUSTOM")
        {
            if (!hasRules) r.Report(Codes.CustomWithoutRules, actionLoc);
            if (string.IsNullOrEmpty(providerName)) r.Report(Codes.CustomWithoutProvider, spec.KeyNode("provider")?.Location ?? actionLoc);
        }
        var irRules = ImmutableArray.CreateBuilder<Rule>();
        int dropped = 0;
        if (rules is not null)
            for (int i = 0; i < rules.Items.Count; i++)
            {
                var rule = Rule(rules.Items[i], i, action, enforcedAction);
                if (rule is null) dropped++;
                else irRules.Add(rule);
            }

        // Dry run.
        bool dryRun = false;
        if (meta.AnnotationsNode?.KeyNode(DryRunAnnotation) is { } dryKey)
        {
            var dryNode = meta.AnnotationsNode[DryRunAnnotation]!;
            string? text = meta.Annotations.Get(DryRunAnnotation);
            if (text is not null && !Values.TryParseGoBool(text, out dryRun)) r.Report(Codes.DryRunNotBool, dryNode.Location, text);
            if (!enforcedAction && _actionName is "AUDIT" or "CUSTOM") r.Report(Codes.DryRunOnAuditCustom, dryKey.Location, _actionName);
        }

        if (r.Errors > errors) return null;

        // Which policies count.
        if (targetRef)
        {
            var k = spec.KeyNode("targetRef") ?? spec.KeyNode("targetRefs")!;
            r.Report(Codes.TargetRefNotEnforced, k.Location, k.Value);
            return null;
        }
        if (!enforcedAction)
        {
            r.Report(Codes.ActionNotEnforced, actionLoc, _actionName);
            return null;
        }
        if (dryRun && !settings.EnableDryRun)
        {
            r.Report(Codes.DryRunExcluded, meta.AnnotationsNode!.KeyNode(DryRunAnnotation)!.Location);
            return null;
        }
        if (dryRun) r.Report(Codes.DryRunKept, meta.AnnotationsNode!.KeyNode(DryRunAnnotation)!.Location);
        if (action == PolicyAction.Allow)
        {
            if (!hasRules) r.Report(Codes.AllowNoRules, spec.KeyNode("rules")?.Location ?? meta.Location);
            else if (irRules.Count == 0) r.Report(Codes.AllowsNothing, spec.KeyNode("rules")!.Location);
        }

        var scope = matchLabels is not null ? PolicyScope.WorkloadSelector
            : meta.Namespace == settings.RootNamespace ? PolicyScope.Global : PolicyScope.Namespace;
        var policy = new Policy(meta.Name, meta.Namespace, scope, action, dryRun, irRules.ToImmutable(), meta.Location);
        return new PolicyModel(policy, matchLabels, targetLoc, [.. _ports], [.. _namespaces]);
    }

    private Labels Selector(YMap sel, YScalar selKey)
    {
        var pairs = r.StringMap(sel["matchLabels"], "spec.selector.matchLabels");
        if (pairs is null || pairs.Count == 0)
        {
            r.Report(Codes.EmptySelector, selKey.Location);
            return Labels.Empty;
        }
        foreach (var (k, v, kn, vn) in pairs)
        {
            if (k.Length == 0) r.Report(Codes.EmptyLabelKey, kn.Location);
            if (k.Contains('*')) r.Report(Codes.LabelWildcard, kn.Location, "key", k);
            if (v.Contains('*')) r.Report(Codes.LabelWildcard, vn.Location, "value", v);
        }
        return ObjectParser.ToLabels(pairs);
    }

    /// <summary>One rule → one IR rule (null when an ALLOW rule is dropped for its L7 attributes).</summary>
    private Rule? Rule(YNode node, int index, PolicyAction action, bool enforced)
    {
        string path = $"rules[{index}]";
        var rule = r.Map(node, path);
        if (rule is null)
        {
            // "- " with nothing: the same as {} (a rule that always matches).
            return node is YScalar { IsNull: true } ? new Rule([], node.Location) : null;
        }
        r.Fields(rule, "rule", RuleFields);
        var l7 = new SortedSet<string>(StringComparer.Ordinal);
        var clauses = ImmutableArray.CreateBuilder<Clause>();

        if (rule.KeyNode("to") is { } toKey && r.List(rule["to"], path + ".to") is { } to)
        {
            if (to.Items.Count == 0) r.Report(Codes.EmptyFromTo, toKey.Location, "to");
            var matches = ImmutableArray.CreateBuilder<Match>();
            for (int i = 0; i < to.Items.Count; i++)
                if (To(to.Items[i], $"{path}.to[{i}]", l7) is { } mt) matches.Add(mt);
            if (matches.Count > 0) clauses.Add(new Clause(matches.ToImmutable(), toKey.Location));
        }
        if (rule.KeyNode("from") is { } fromKey && r.List(rule["from"], path + ".from") is { } from)
        {
            if (from.Items.Count == 0) r.Report(Codes.EmptyFromTo, fromKey.Location, "from");
            var matches = ImmutableArray.CreateBuilder<Match>();
            for (int i = 0; i < from.Items.Count; i++)
                if (From(from.Items[i], $"{path}.from[{i}]", l7) is { } mt) matches.Add(mt);
            if (matches.Count > 0) clauses.Add(new Clause(matches.ToImmutable(), fromKey.Location));
        }
        if (r.List(rule["when"], path + ".when") is { } when)
            for (int i = 0; i < when.Items.Count; i++)
                if (When(when.Items[i], $"{path}.when[{i}]", l7) is { } mt) clauses.Add(new Clause([mt], when.Items[i].Location));

        if (l7.Count == 0 || !enforced) return new Rule(clauses.ToImmutable(), rule.Location);
        string what = string.Join(", ", l7);
        if (action == PolicyAction.Allow)
        {
            r.Report(Codes.L7RuleDropped, rule.Location, path, what);
            return null;
        }
        bool neverFires = clauses.Any(c => c.Matches.Length > 0 && c.Matches.All(x => x.IsEmpty));
        r.Report(neverFires ? Codes.L7RuleNoEffect : Codes.L7PartRemoved, rule.Location, path, what);
        return new Rule(clauses.ToImmutable(), rule.Location);
    }

    private Match? To(YNode node, string path, SortedSet<string> l7)
    {
        var entry = r.Map(node, path);
        if (entry is null) { MissingEntry(node, path, "operation"); return null; }
        r.Fields(entry, "'to' entry", ToFields);
        var op = r.Map(entry["operation"], path + ".operation");
        if (op is null)
        {
            if (entry["operation"] is null || entry["operation"] is YScalar { IsNull: true }) r.Report(Codes.MissingField, entry.Location, "this 'to' entry", "operation");
            return null;
        }
        r.Fields(op, "operation", OperationFields);
        if (op.Entries.Count == 0) { r.Report(Codes.EmptySourceOperation, op.Location, "operation"); return null; }
        var ports = Ports(op, "ports", path + ".operation");
        var notPorts = Ports(op, "notPorts", path + ".operation");
        foreach (var f in new[] { "hosts", "notHosts", "methods", "notMethods", "paths", "notPaths" })
            if (NonEmptyStrings(op, f, path + ".operation")) l7.Add(f);
        return Match.Empty(entry.Location) with { DestinationPorts = ports, NotDestinationPorts = notPorts };
    }

    private void MissingEntry(YNode node, string path, string field)
    {
        if (node is YScalar { IsNull: true }) r.Report(Codes.MissingField, node.Location, $"{path}", field);
    }

    private Match? From(YNode node, string path, SortedSet<string> l7)
    {
        var entry = r.Map(node, path);
        if (entry is null) { MissingEntry(node, path, "source"); return null; }
        r.Fields(entry, "'from' entry", FromFields);
        var src = r.Map(entry["source"], path + ".source");
        if (src is null)
        {
            if (entry["source"] is null || entry["source"] is YScalar { IsNull: true }) r.Report(Codes.MissingField, entry.Location, "this 'from' entry", "source");
            return null;
        }
        r.Fields(src, "source", SourceFields);
        if (src.Entries.Count == 0) { r.Report(Codes.EmptySourceOperation, src.Location, "source"); return null; }
        string p = path + ".source";

        var sa = src.KeyNode("serviceAccounts") ?? src.KeyNode("notServiceAccounts");
        if (sa is not null)
            foreach (var other in new[] { "principals", "notPrincipals", "namespaces", "notNamespaces" })
                if (src.KeyNode(other) is not null) r.Report(Codes.ServiceAccountsWithIdentity, sa.Location, sa.Value, other);
        if (_actionName == "CUSTOM")
            foreach (var f in IdentityFields)
                if (src.KeyNode(f) is { } k) r.Report(Codes.CustomWithIdentity, k.Location, f);

        var match = Match.Empty(entry.Location) with
        {
            Principals = Principals(src, "principals", p),
            NotPrincipals = Principals(src, "notPrincipals", p),
            Namespaces = NamespacesOf(src, "namespaces", p),
            NotNamespaces = NamespacesOf(src, "notNamespaces", p),
            SourceIps = Ips(src, "ipBlocks", p),
            NotSourceIps = Ips(src, "notIpBlocks", p),
            ServiceAccounts = ServiceAccounts(src, "serviceAccounts", p),
            NotServiceAccounts = ServiceAccounts(src, "notServiceAccounts", p),
        };
        foreach (var f in new[] { "remoteIpBlocks", "notRemoteIpBlocks" })
            if (Ips(src, f, p).Length > 0) l7.Add(f);
        foreach (var f in new[] { "requestPrincipals", "notRequestPrincipals" })
            if (NonEmptyStrings(src, f, p)) l7.Add(f);
        foreach (var f in new[] { "trustDomains", "notTrustDomains" })
        {
            if (src.KeyNode(f) is not { } key) continue;
            foreach (var (v, n) in r.Strings(src[f], $"{p}.{f}") ?? [])
            {
                if (v.Length == 0) r.Report(Codes.EmptyString, n.Location, f);
                else if (!Values.IsValidTrustDomainPattern(v)) r.Report(Codes.BadTrustDomain, n.Location, v);
            }
            bool onlyThis = src.Entries.All(e => e.Key.Value is "trustDomains" or "notTrustDomains");
            r.Report(Codes.TrustDomainsIgnored, key.Location, f,
                onlyThis ? "; this source has no other field, so it becomes an empty match that never matches" : "");
        }
        return match;
    }

    private Match? When(YNode node, string path, SortedSet<string> l7)
    {
        var cond = r.Map(node, path);
        if (cond is null) { if (node is YScalar { IsNull: true }) r.Report(Codes.WhenMissingKey, node.Location); return null; }
        r.Fields(cond, "condition", ConditionFields);
        string? key = r.String(cond["key"], path + ".key");
        if (key is null)
        {
            if (cond["key"] is null or YScalar { IsNull: true }) r.Report(Codes.WhenMissingKey, cond.Location);
            return null;
        }
        var keyLoc = cond["key"]!.Location;
        var values = r.Strings(cond["values"], path + ".values") ?? [];
        var notValues = r.Strings(cond["notValues"], path + ".notValues") ?? [];
        if (values.Count == 0 && notValues.Count == 0) r.Report(Codes.WhenNoValues, cond.Location, key);
        foreach (var (v, n) in values.Concat(notValues))
            if (v.Length == 0) r.Report(Codes.EmptyString, n.Location, key);

        var match = Match.Empty(cond.Location);
        switch (key)
        {
            case "source.ip":
                return match with { SourceIps = IpValues(values), NotSourceIps = IpValues(notValues) };
            case "destination.ip":
                return match with { DestinationIps = IpValues(values), NotDestinationIps = IpValues(notValues) };
            case "destination.port":
                return match with { DestinationPorts = PortValues(values), NotDestinationPorts = PortValues(notValues) };
            case "source.namespace":
                if (_actionName == "CUSTOM") r.Report(Codes.CustomWithIdentity, keyLoc, key);
                return match with { Namespaces = NamespaceValues(values), NotNamespaces = NamespaceValues(notValues) };
            case "source.principal":
                if (_actionName == "CUSTOM") r.Report(Codes.CustomWithIdentity, keyLoc, key);
                return match with { Principals = PrincipalValues(values), NotPrincipals = PrincipalValues(notValues) };
        }
        if (!IsAcceptedL7Key(key, keyLoc)) return null;
        if (key == "remote.ip") { IpValues(values); IpValues(notValues); }
        if (key == "source.serviceAccount") r.Report(Codes.WhenSidecarOnlyKey, keyLoc, key, "from.source.serviceAccounts or source.principal");
        if (key == "source.trustDomain") r.Report(Codes.WhenSidecarOnlyKey, keyLoc, key, "source.principal with a trust-domain prefix");
        l7.Add(key);
        return match; // L7 only: an empty match (never matches)
    }

    /// <summary>True for the L7 keys Istio accepts; reports the rest.</summary>
    private bool IsAcceptedL7Key(string key, SourceLocation at)
    {
        if (L7WhenKeys.Contains(key)) return true;
        if (key.StartsWith(EnvoyFilterPrefix, StringComparison.Ordinal) && key.Length > EnvoyFilterPrefix.Length) return true;
        foreach (var b in BracketedWhenKeys)
        {
            if (!key.StartsWith(b, StringComparison.Ordinal)) continue;
            string rest = key[b.Length..];
            if (BracketsRegex().IsMatch(rest)) return true;
            if (rest.Length == 0 || rest[0] == '[')
            {
                r.Report(Codes.WhenBadBracket, at, key);
                return false;
            }
        }
        string? hint = key switch
        {
            "destination.namespace" => "the policy applies to its own namespace (metadata.namespace); put the policy in that namespace",
            "destination.name" or "destination.user" => "it is not supported by Istio; select the destination workload with spec.selector",
            _ when key.StartsWith("destination.labels", StringComparison.Ordinal) => "select destination workloads with spec.selector.matchLabels",
            _ => null,
        };
        if (hint is not null) { r.Report(Codes.WhenDestinationKey, at, key, hint); return false; }
        string? near = ObjectReader.DidYouMean(key, L4WhenKeys.Concat(L7WhenKeys));
        r.Report(Codes.WhenUnknownKey, at, key, near is null ? "" : $" (did you mean '{near}'?)");
        return false;
    }

    /// <summary>One or more non-empty bracketed names: [x-user] or [nested][key].</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"^(\[[^\[\]]+\])+$")]
    private static partial System.Text.RegularExpressions.Regex BracketsRegex();

    // ---- value conversion ----

    private bool NonEmptyStrings(YMap m, string field, string path)
    {
        var list = r.Strings(m[field], $"{path}.{field}");
        if (list is null) return false;
        foreach (var (v, n) in list) if (v.Length == 0) r.Report(Codes.EmptyString, n.Location, field);
        return list.Count > 0;
    }

    private ImmutableArray<uint> Ports(YMap m, string field, string path) =>
        PortValues(r.Strings(m[field], $"{path}.{field}") ?? [], field);

    private ImmutableArray<uint> PortValues(List<(string Value, YNode Node)> values, string field = "destination.port")
    {
        var b = ImmutableArray.CreateBuilder<uint>(values.Count);
        foreach (var (v, n) in values)
        {
            if (v.Length == 0) { if (field != "destination.port") r.Report(Codes.EmptyString, n.Location, field); continue; }
            if (Values.TryParsePort(v, out uint port)) { b.Add(port); _ports.Add(new PortMention(port, n.Location)); }
            else r.Report(Codes.BadPort, n.Location, v);
        }
        return b.ToImmutable();
    }

    private ImmutableArray<IpPrefix> Ips(YMap m, string field, string path)
    {
        var list = r.Strings(m[field], $"{path}.{field}") ?? [];
        foreach (var (v, n) in list) if (v.Length == 0) r.Report(Codes.EmptyString, n.Location, field);
        return IpValues(list);
    }

    private ImmutableArray<IpPrefix> IpValues(List<(string Value, YNode Node)> values)
    {
        var b = ImmutableArray.CreateBuilder<IpPrefix>(values.Count);
        foreach (var (v, n) in values)
        {
            if (v.Length == 0) continue;
            if (IpPrefix.TryParse(v, out var p, out var err)) b.Add(p);
            else r.Report(Codes.BadIp, n.Location, v, err);
        }
        return b.ToImmutable();
    }

    private ImmutableArray<StringMatch> Principals(YMap m, string field, string path)
    {
        var list = r.Strings(m[field], $"{path}.{field}") ?? [];
        foreach (var (v, n) in list) if (v.Length == 0) r.Report(Codes.EmptyString, n.Location, field);
        return PrincipalValues(list);
    }

    private ImmutableArray<StringMatch> PrincipalValues(List<(string Value, YNode Node)> values)
    {
        var b = ImmutableArray.CreateBuilder<StringMatch>(values.Count);
        foreach (var (v, n) in values)
        {
            if (v.Length == 0) continue;
            var sm = StringMatchOf(v, n);
            if (v.StartsWith("spiffe://", StringComparison.Ordinal)) r.Report(Codes.SpiffePrincipal, n.Location, v, v["spiffe://".Length..]);
            b.Add(sm);
        }
        return b.ToImmutable();
    }

    private ImmutableArray<StringMatch> NamespacesOf(YMap m, string field, string path)
    {
        var list = r.Strings(m[field], $"{path}.{field}") ?? [];
        foreach (var (v, n) in list) if (v.Length == 0) r.Report(Codes.EmptyString, n.Location, field);
        return NamespaceValues(list);
    }

    private ImmutableArray<StringMatch> NamespaceValues(List<(string Value, YNode Node)> values)
    {
        var b = ImmutableArray.CreateBuilder<StringMatch>(values.Count);
        foreach (var (v, n) in values)
        {
            if (v.Length == 0) continue;
            var sm = StringMatchOf(v, n);
            _namespaces.Add(new NamespaceMention(sm, v, n.Location));
            b.Add(sm);
        }
        return b.ToImmutable();
    }

    private StringMatch StringMatchOf(string v, YNode n)
    {
        var sm = Values.ToStringMatch(v);
        if (Values.HasLiteralStar(sm)) r.Report(Codes.LiteralStar, n.Location, v);
        return sm;
    }

    private ImmutableArray<ServiceAccountMatch> ServiceAccounts(YMap m, string field, string path)
    {
        var list = r.Strings(m[field], $"{path}.{field}") ?? [];
        var b = ImmutableArray.CreateBuilder<ServiceAccountMatch>(list.Count);
        foreach (var (v, n) in list)
        {
            if (v.Length == 0) { r.Report(Codes.EmptyString, n.Location, field); continue; }
            if (Values.TryParseServiceAccount(v, meta.Namespace, out var sa, out var err))
            {
                b.Add(sa!);
                if (v.Contains('/')) _namespaces.Add(new NamespaceMention(new StringMatch(StringMatchKind.Exact, sa!.Namespace), sa.Namespace, n.Location));
            }
            else r.Report(Codes.BadServiceAccount, n.Location, v, err);
        }
        return b.ToImmutable();
    }
}
