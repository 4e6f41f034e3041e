using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Ir;
using static KmeshCompiler.Tests.Kubernetes.Kube;

namespace KmeshCompiler.Tests.Kubernetes;

/// <summary>semantics.md §2: what istiod does with an AuthorizationPolicy for ambient.</summary>
public class TranslationTests
{
    [Fact]
    public void Scope_follows_selector_then_root_namespace()
    {
        var (w, bag) = Build(
            Policy("  selector:\n    matchLabels:\n      app: a\n", "sel", "shop") + "---\n" +
            Policy("  {}\n", "glob", "istio-system") + "---\n" +
            Policy("  {}\n", "ns", "shop"));
        Assert.False(bag.HasErrors, Dump(bag));
        Eq(w.Policies.Select(p => p.Key), "istio-system/glob", "shop/ns", "shop/sel");
        Assert.Equal(PolicyScope.Global, w.Policies[0].Scope);
        Assert.Equal(PolicyScope.Namespace, w.Policies[1].Scope);
        Assert.Equal(PolicyScope.WorkloadSelector, w.Policies[2].Scope);
    }

    [Fact]
    public void Root_namespace_is_a_setting()
    {
        var (w, _) = Build(Policy("  {}\n", "p", "mesh"), new FrontendSettings(RootNamespace: "mesh"));
        Assert.Equal(PolicyScope.Global, Single(w).Scope);
        (w, _) = Build(Policy("  {}\n", "p", "istio-system"), new FrontendSettings(RootNamespace: "mesh"));
        Assert.Equal(PolicyScope.Namespace, Single(w).Scope);
    }

    [Fact]
    public void Missing_namespace_defaults_to_default()
    {
        var (w, _) = Build("apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\nspec: {}\n");
        Assert.Equal("default/p", Single(w).Key);
    }

    [Theory]
    [InlineData("targetRef:\n    kind: Gateway\n    group: gateway.networking.k8s.io\n    name: gw\n", "targetRef")]
    [InlineData("targetRefs:\n  - kind: Service\n    group: \"\"\n    name: svc\n", "targetRefs")]
    public void TargetRef_policies_are_excluded_with_info(string spec, string field)
    {
        var (w, bag) = Build(Policy("  " + spec.Replace("\n  -", "\n    -").Replace("\n    group", spec.StartsWith("targetRefs") ? "\n      group" : "\n    group").Replace("\n    name: svc", "\n      name: svc")));
        Assert.Empty(w.Policies);
        var d = Has(bag, Codes.TargetRefNotEnforced, 7, 3);
        Assert.Contains(field, d.Message);
        Assert.False(bag.HasErrors, Dump(bag));
    }

    [Theory]
    [InlineData("AUDIT", "  action: AUDIT\n  rules:\n  - {}\n")]
    [InlineData("CUSTOM", "  action: CUSTOM\n  provider:\n    name: ext\n  rules:\n  - to:\n    - operation:\n        ports: [\"80\"]\n")]
    public void Audit_and_custom_are_excluded_with_a_warning(string action, string spec)
    {
        var (w, bag) = Build(Policy(spec));
        Assert.Empty(w.Policies);
        var d = Has(bag, Codes.ActionNotEnforced, 7, 3);
        Assert.Contains(action, d.Message);
        Assert.False(bag.HasErrors, Dump(bag));
    }

    [Theory]
    [InlineData("1")] [InlineData("t")] [InlineData("T")] [InlineData("TRUE")] [InlineData("true")] [InlineData("True")]
    public void Dry_run_true_values_follow_go_parsebool(string value)
    {
        string doc = Policy("  action: DENY\n  rules:\n  - {}\n", annotations: $"  annotations:\n    istio.io/dry-run: \"{value}\"\n");
        var (w, bag) = Build(doc);
        Assert.Empty(w.Policies);
        Has(bag, Codes.DryRunExcluded, 7, 5);
        (w, bag) = Build(doc, new FrontendSettings(EnableDryRun: true));
        Assert.True(Single(w).DryRun);
        Has(bag, Codes.DryRunKept, 7, 5);
    }

    [Theory]
    [InlineData("0")] [InlineData("f")] [InlineData("F")] [InlineData("FALSE")] [InlineData("false")] [InlineData("False")]
    public void Dry_run_false_values_keep_the_policy_enforced(string value)
    {
        var (w, bag) = Build(Policy("  action: DENY\n  rules:\n  - {}\n", annotations: $"  annotations:\n    istio.io/dry-run: \"{value}\"\n"));
        Assert.False(Single(w).DryRun);
        Clean(bag);
    }

    [Theory]
    [InlineData("yes")] [InlineData("tRuE")] [InlineData("")] [InlineData("on")]
    public void Dry_run_other_values_are_errors(string value)
    {
        var (w, bag) = Build(Policy("  action: DENY\n  rules:\n  - {}\n", annotations: $"  annotations:\n    istio.io/dry-run: \"{value}\"\n"));
        Assert.Empty(w.Policies);
        Has(bag, Codes.DryRunNotBool, 7, 23);
    }

    [Fact]
    public void Rule_becomes_clauses_to_then_from_then_one_per_when()
    {
        var (w, bag) = Build(Policy("""
              rules:
              - when:
                - key: source.ip
                  values: ["10.0.0.0/8"]
                - key: destination.port
                  notValues: ["9090"]
                from:
                - source:
                    namespaces: ["a"]
                to:
                - operation:
                    ports: ["80"]
                - operation:
                    notPorts: ["81"]
            """));
        Assert.False(bag.HasErrors, Dump(bag));
        var rule = Assert.Single(Single(w).Rules);
        Assert.Equal(4, rule.Clauses.Length);
        Eq(rule.Clauses[0].Matches[0].DestinationPorts, 80u);
        Eq(rule.Clauses[0].Matches[1].NotDestinationPorts, 81u);
        Assert.Equal("a", Assert.Single(Assert.Single(rule.Clauses[1].Matches).Namespaces).Value);
        Assert.Equal(IpPrefix.Parse("10.0.0.0/8"), Assert.Single(Assert.Single(rule.Clauses[2].Matches).SourceIps));
        Eq(Assert.Single(rule.Clauses[3].Matches).NotDestinationPorts, 9090u);
        Assert.Equal(7 + 1, rule.Location.Line);
        Assert.Equal(new SourceLocation(FileName, 16, 5), rule.Clauses[0].Location);
    }

    [Fact]
    public void Empty_rule_is_a_rule_without_clauses()
    {
        var (w, bag) = Build(Policy("  rules: [{}]\n"));
        Clean(bag);
        Assert.Empty(Assert.Single(Single(w).Rules).Clauses);
    }

    [Fact]
    public void Empty_spec_is_an_allow_policy_without_rules()
    {
        var (w, bag) = Build(Policy("  {}\n"));
        var p = Single(w);
        Assert.Equal(PolicyAction.Allow, p.Action);
        Assert.Empty(p.Rules);
        Has(bag, Codes.AllowNoRules, 1, 1);
    }

    [Fact]
    public void Allow_rule_with_l7_attributes_is_dropped_whole()
    {
        var (w, bag) = Build(Policy("""
              rules:
              - from:
                - source:
                    namespaces: ["a"]
                to:
                - operation:
                    methods: ["GET"]
              - from:
                - source:
                    namespaces: ["b"]
            """));
        var rule = Assert.Single(Single(w).Rules);
        Assert.Equal("b", rule.Clauses[0].Matches[0].Namespaces[0].Value);
        var d = Has(bag, Codes.L7RuleDropped, 8, 5);
        Assert.Contains("methods", d.Message);
        Lacks(bag, Codes.AllowsNothing);
    }

    [Fact]
    public void Allow_policy_whose_rules_are_all_dropped_allows_nothing()
    {
        var (w, bag) = Build(Policy("""
              rules:
              - when:
                - key: request.headers[x-user]
                  values: ["alice"]
              - from:
                - source:
                    remoteIpBlocks: ["1.2.3.4"]
            """));
        Assert.Empty(Single(w).Rules);
        Has(bag, Codes.L7RuleDropped, 8, 5);
        Has(bag, Codes.L7RuleDropped, 11, 5);
        Has(bag, Codes.AllowsNothing, 7, 3);
    }

    [Fact]
    public void Deny_keeps_l4_part_of_a_mixed_source()
    {
        var (w, bag) = Build(Policy("""
              action: DENY
              rules:
              - from:
                - source:
                    namespaces: ["a"]
                    requestPrincipals: ["*"]
            """));
        var m = Assert.Single(Assert.Single(Assert.Single(Single(w).Rules).Clauses).Matches);
        Assert.False(m.IsEmpty);
        Assert.Equal("a", m.Namespaces[0].Value);
        var d = Has(bag, Codes.L7PartRemoved, 9, 5);
        Assert.Contains("requestPrincipals", d.Message);
    }

    [Fact]
    public void Deny_with_only_l7_entry_becomes_an_empty_match_and_has_no_effect()
    {
        var (w, bag) = Build(Policy("""
              action: DENY
              rules:
              - to:
                - operation:
                    paths: ["/admin"]
            """));
        var clause = Assert.Single(Assert.Single(Single(w).Rules).Clauses);
        Assert.True(Assert.Single(clause.Matches).IsEmpty);
        Has(bag, Codes.L7RuleNoEffect, 9, 5);
    }

    [Fact]
    public void Deny_when_with_l7_key_is_an_empty_match_clause()
    {
        var (w, bag) = Build(Policy("""
              action: DENY
              rules:
              - from:
                - source:
                    ipBlocks: ["10.0.0.0/8"]
                when:
                - key: request.auth.claims[iss]
                  values: ["x"]
            """));
        var rule = Assert.Single(Single(w).Rules);
        Assert.Equal(2, rule.Clauses.Length);
        Assert.True(Assert.Single(rule.Clauses[1].Matches).IsEmpty);
        Has(bag, Codes.L7RuleNoEffect, 9, 5);
    }

    [Fact]
    public void Deny_with_one_l7_entry_among_l4_entries_still_fires()
    {
        var (w, bag) = Build(Policy("""
              action: DENY
              rules:
              - to:
                - operation:
                    hosts: ["a.example"]
                - operation:
                    ports: ["22"]
            """));
        var clause = Assert.Single(Assert.Single(Single(w).Rules).Clauses);
        Assert.True(clause.Matches[0].IsEmpty);
        Eq(clause.Matches[1].DestinationPorts, 22u);
        Has(bag, Codes.L7PartRemoved, 9, 5);
        Lacks(bag, Codes.L7RuleNoEffect);
    }

    [Fact]
    public void Empty_l7_lists_are_not_l7()
    {
        var (w, bag) = Build(Policy("""
              rules:
              - to:
                - operation:
                    ports: ["80"]
                    methods: []
            """));
        Assert.Single(Single(w).Rules);
        Lacks(bag, Codes.L7RuleDropped);
    }

    [Theory]
    [InlineData("*", StringMatchKind.Presence, "")]
    [InlineData("*.example", StringMatchKind.Suffix, ".example")]
    [InlineData("prod-*", StringMatchKind.Prefix, "prod-")]
    [InlineData("exact", StringMatchKind.Exact, "exact")]
    [InlineData("*a*", StringMatchKind.Suffix, "a*")]
    [InlineData("a*b", StringMatchKind.Exact, "a*b")]
    public void String_values_convert_like_istiod(string written, StringMatchKind kind, string value)
    {
        var (w, bag) = Build(Policy($"  rules:\n  - from:\n    - source:\n        principals: [\"{written}\"]\n"));
        var m = Single(w).Rules[0].Clauses[0].Matches[0].Principals[0];
        Assert.Equal(new StringMatch(kind, value), m);
        if (written is "*a*" or "a*b") Has(bag, Codes.LiteralStar, 10, 22);
        else Lacks(bag, Codes.LiteralStar);
    }

    [Fact]
    public void Spiffe_principal_is_kept_and_warned_about()
    {
        var (w, bag) = Build(Policy("  rules:\n  - from:\n    - source:\n        principals: [\"spiffe://cluster.local/ns/a/sa/b\"]\n"));
        Assert.Equal("spiffe://cluster.local/ns/a/sa/b", Single(w).Rules[0].Clauses[0].Matches[0].Principals[0].Value);
        var d = Has(bag, Codes.SpiffePrincipal, 10, 22);
        Assert.Contains("'cluster.local/ns/a/sa/b'", d.Message);
    }

    [Fact]
    public void Service_accounts_default_to_the_policy_namespace()
    {
        var (w, bag) = Build(Policy("  rules:\n  - from:\n    - source:\n        serviceAccounts: [\"web\", \"other/api\"]\n        notServiceAccounts: [\"x\"]\n", ns: "shop"));
        Clean(bag);
        var m = Single(w).Rules[0].Clauses[0].Matches[0];
        Eq(m.ServiceAccounts, new ServiceAccountMatch("shop", "web"), new ServiceAccountMatch("other", "api"));
        Eq(m.NotServiceAccounts, new ServiceAccountMatch("shop", "x"));
    }

    [Theory]
    [InlineData("80", 80u)]
    [InlineData("08080", 8080u)]
    [InlineData("0", 0u)]
    [InlineData("65535", 65535u)]
    [InlineData("0000000000443", 443u)]
    public void Ports_are_decimal_with_leading_zeros_allowed(string written, uint port)
    {
        var (w, bag) = Build(Policy($"  rules:\n  - to:\n    - operation:\n        ports: [\"{written}\"]\n"));
        Assert.False(bag.HasErrors, Dump(bag));
        Eq(Single(w).Rules[0].Clauses[0].Matches[0].DestinationPorts, port);
    }

    [Theory]
    [InlineData("65536")] [InlineData("-1")] [InlineData("+80")] [InlineData("80-90")] [InlineData("http")] [InlineData(" 80")] [InlineData("99999999999999999999")]
    public void Bad_ports_are_errors(string written)
    {
        var (w, bag) = Build(Policy($"  rules:\n  - to:\n    - operation:\n        ports: [\"{written}\"]\n"));
        Assert.Empty(w.Policies);
        Has(bag, Codes.BadPort, 10, 17);
    }

    [Theory]
    [InlineData("10.0.0.1", "10.0.0.1/32")]
    [InlineData("10.0.0.1/24", "10.0.0.1/24")]
    [InlineData("0.0.0.0/0", "0.0.0.0/0")]
    [InlineData("::1", "::1/128")]
    [InlineData("2001:db8::/32", "2001:db8::/32")]
    [InlineData("2001:db8::1/64", "2001:db8::1/64")]
    [InlineData("::ffff:10.0.0.1", "::ffff:10.0.0.1/128")]
    public void Ip_values_keep_their_bytes(string written, string expected)
    {
        var (w, bag) = Build(Policy($"  rules:\n  - from:\n    - source:\n        ipBlocks: [\"{written}\"]\n"));
        Assert.False(bag.HasErrors, Dump(bag));
        var p = Single(w).Rules[0].Clauses[0].Matches[0].SourceIps[0];
        Assert.Equal(expected, p.ToString());
    }

    [Fact]
    public void Unmasked_cidr_compares_as_its_network()
    {
        var (w, _) = Build(Policy("  rules:\n  - from:\n    - source:\n        ipBlocks: [\"10.0.0.1/24\"]\n"));
        var p = Single(w).Rules[0].Clauses[0].Matches[0].SourceIps[0];
        Assert.True(p.Contains(IpAddr.Parse("10.0.0.200")));
        Assert.False(p.Contains(IpAddr.Parse("10.0.1.1")));
    }

    [Theory]
    [InlineData("010.0.0.1")] [InlineData("10.0.1")] [InlineData("10.0.0.0/33")] [InlineData("::/129")] [InlineData("10.0.0.0/08")]
    [InlineData("fe80::1%eth0")] [InlineData("1.2.3.4.5")] [InlineData("10.0.0.256")] [InlineData("localhost")]
    public void Bad_ips_are_errors(string written)
    {
        var (w, bag) = Build(Policy($"  rules:\n  - from:\n    - source:\n        ipBlocks: [\"{written}\"]\n"));
        Assert.Empty(w.Policies);
        Has(bag, Codes.BadIp, 10, 20);
    }

    [Theory]
    [InlineData("source.ip", "10.0.0.0/8")]
    [InlineData("destination.ip", "fd00::/8")]
    [InlineData("destination.port", "8080")]
    [InlineData("source.namespace", "prod-*")]
    [InlineData("source.principal", "*/sa/admin")]
    public void When_l4_keys_fill_positive_and_negative_fields(string key, string value)
    {
        var (w, bag) = Build(Policy($"  rules:\n  - when:\n    - key: {key}\n      values: [\"{value}\"]\n    - key: {key}\n      notValues: [\"{value}\"]\n"));
        Assert.False(bag.HasErrors, Dump(bag));
        var rule = Single(w).Rules[0];
        var pos = rule.Clauses[0].Matches[0];
        var neg = rule.Clauses[1].Matches[0];
        (int posCount, int negCount) = key switch
        {
            "source.ip" => (pos.SourceIps.Length, neg.NotSourceIps.Length),
            "destination.ip" => (pos.DestinationIps.Length, neg.NotDestinationIps.Length),
            "destination.port" => (pos.DestinationPorts.Length, neg.NotDestinationPorts.Length),
            "source.namespace" => (pos.Namespaces.Length, neg.NotNamespaces.Length),
            _ => (pos.Principals.Length, neg.NotPrincipals.Length),
        };
        Assert.Equal((1, 1), (posCount, negCount));
        Assert.False(pos.IsEmpty);
        Assert.False(neg.IsEmpty);
    }

    [Fact]
    public void Negative_source_fields_map_to_negative_ir_fields()
    {
        var (w, bag) = Build(Policy("""
              action: DENY
              rules:
              - from:
                - source:
                    notIpBlocks: ["10.0.0.0/8"]
                    notNamespaces: ["kube-system"]
                    notPrincipals: ["*"]
            """));
        Assert.False(bag.HasErrors, Dump(bag));
        var m = Single(w).Rules[0].Clauses[0].Matches[0];
        Assert.Single(m.NotSourceIps);
        Assert.Single(m.NotNamespaces);
        Assert.Equal(StringMatchKind.Presence, m.NotPrincipals[0].Kind);
        Assert.Empty(m.SourceIps);
    }

    [Fact]
    public void Trust_domains_are_ignored_with_a_warning()
    {
        var (w, bag) = Build(Policy("""
              rules:
              - from:
                - source:
                    namespaces: ["a"]
                    trustDomains: ["other.example"]
                - source:
                    notTrustDomains: ["*.example"]
            """));
        var matches = Single(w).Rules[0].Clauses[0].Matches;
        Assert.Equal("a", matches[0].Namespaces[0].Value);
        Assert.True(matches[1].IsEmpty);
        var d1 = Has(bag, Codes.TrustDomainsIgnored, 11, 9);
        Assert.DoesNotContain("empty match", d1.Message);
        var d2 = Has(bag, Codes.TrustDomainsIgnored, 13, 9);
        Assert.Contains("empty match", d2.Message);
    }

    [Fact]
    public void Selector_policies_attach_to_matching_workloads_of_their_namespace()
    {
        var (w, bag) = Build(Pod("a1", "shop", "app: web\n    tier: front", "10.0.0.1") + Pod("a2", "shop", "app: db", "10.0.0.2") +
                             Pod("a3", "other", "app: web", "10.0.0.3") +
                             Policy("  selector:\n    matchLabels:\n      app: web\n", "p2", "shop") + "---\n" +
                             Policy("  selector:\n    matchLabels:\n      app: web\n", "p1", "shop") + "---\n" +
                             Policy("  selector:\n    matchLabels:\n      app: web\n      tier: back\n", "p3", "shop"));
        Assert.False(bag.HasErrors, Dump(bag));
        Eq(Workload(w, "a1").AuthorizationPolicies, "shop/p1", "shop/p2");
        Assert.Empty(Workload(w, "a2").AuthorizationPolicies);
        Assert.Empty(Workload(w, "a3").AuthorizationPolicies);
    }

    [Fact]
    public void Root_namespace_selector_policies_attach_in_every_namespace()
    {
        var (w, bag) = Build(Pod("a1", "shop", "app: web", "10.0.0.1") + Pod("a3", "other", "app: web", "10.0.0.3") +
                             Policy("  selector:\n    matchLabels:\n      app: web\n", "p", "istio-system"));
        Assert.False(bag.HasErrors, Dump(bag));
        Eq(Workload(w, "a1").AuthorizationPolicies, "istio-system/p");
        Eq(Workload(w, "a3").AuthorizationPolicies, "istio-system/p");
        Assert.Equal(PolicyScope.WorkloadSelector, Single(w).Scope);
    }

    [Theory]
    [InlineData("  selector: {}\n")]
    [InlineData("  selector:\n    matchLabels: {}\n")]
    public void Empty_selector_attaches_to_nothing_and_warns(string spec)
    {
        var (w, bag) = Build(Pod("a1", "default", "app: web", "10.0.0.1") + Policy(spec));
        var p = Single(w);
        Assert.Equal(PolicyScope.WorkloadSelector, p.Scope);
        Assert.Empty(Workload(w, "a1").AuthorizationPolicies);
        Has(bag, Codes.EmptySelector, 7 + PodLines, 3);
        Lacks(bag, Codes.SelectsNothing);
    }

    internal const int PodLines = 13;

    /// <summary>A Pod document of <see cref="PodLines"/> lines (separator included).</summary>
    internal static string Pod(string name, string ns, string labels, string ip, string node = "n1", bool ready = true, string sa = "") =>
        $"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    {labels}\nspec:\n  nodeName: {node}\n{(sa.Length > 0 ? $"  serviceAccountName: {sa}\n" : "")}status:\n  podIP: {ip}\n  conditions: [{{type: Ready, status: \"{(ready ? "True" : "False")}\"}}]\n---\n";
}
