using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Kubernetes;
using static KmeshCompiler.Tests.Kubernetes.Kube;

namespace KmeshCompiler.Tests.Kubernetes;

/// <summary>semantics.md §5: every check of the validation catalogue, asserted by code, line and column.
/// Policy specs start on line 7 (see <see cref="Kube.Policy"/>).</summary>
public class ValidationTests
{
    private static void Expect(string yaml, DiagnosticDescriptor code, int line, int col, string? messagePart = null, FrontendSettings? settings = null)
    {
        var (_, bag) = Build(yaml, settings);
        var d = Has(bag, code, line, col);
        if (messagePart is not null) Assert.Contains(messagePart, d.Message);
    }

    // ---- structure ----

    [Fact]
    public void Yaml_that_does_not_parse_is_located() =>
        Expect("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [a, b\n", Codes.YamlSyntax, 5, 1);

    [Fact]
    public void Tab_indentation_is_a_syntax_error() =>
        Expect("apiVersion: v1\nkind: Pod\nmetadata:\n\tname: x\n", Codes.YamlSyntax, 4, 1);

    [Theory]
    [InlineData("not_principals", "notPrincipals")]
    [InlineData("notPrincipal", "notPrincipals")]
    [InlineData("NotPrincipals", "notPrincipals")]
    [InlineData("ipblocks", "ipBlocks")]
    [InlineData("namespace", "namespaces")]
    [InlineData("service_accounts", "serviceAccounts")]
    public void Unknown_fields_suggest_the_near_miss(string written, string suggested) =>
        Expect(Policy($"  rules:\n  - from:\n    - source:\n        {written}: [\"x\"]\n"), Codes.UnknownField, 10, 9, $"did you mean '{suggested}'?");

    [Fact]
    public void Unknown_field_far_from_any_lists_the_fields()
    {
        var (_, bag) = Build(Policy("  rules:\n  - from:\n    - source:\n        colour: [\"x\"]\n"));
        var d = Has(bag, Codes.UnknownField, 10, 9);
        Assert.DoesNotContain("did you mean", d.Message);
        Assert.Contains("notPrincipals", d.Message);
    }

    [Theory]
    [InlineData("  selectors:\n    matchLabels: {a: b}\n", 7, 3, "selector")]
    [InlineData("  rules:\n  - form:\n    - source: {namespaces: [a]}\n", 8, 5, "from")]
    [InlineData("  rules:\n  - to:\n    - operations: {ports: [\"80\"]}\n", 9, 7, "operation")]
    [InlineData("  action: DENY\n  rules:\n  - when:\n    - key: source.ip\n      value: [\"1.2.3.4\"]\n", 11, 7, "values")]
    public void Unknown_fields_at_every_level(string spec, int line, int col, string suggested) =>
        Expect(Policy(spec), Codes.UnknownField, line, col, $"'{suggested}'");

    [Fact]
    public void Unknown_metadata_field() =>
        Expect("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  lables: {x: y}\n", Codes.UnknownField, 5, 3, "'labels'");

    [Theory]
    [InlineData("  rules:\n  - to:\n    - operation:\n        ports: 8080\n", 10, 16, "a list")]
    [InlineData("  rules:\n  - from:\n    - source:\n        principals: [1]\n", 10, 22, "a string")]
    [InlineData("  rules: {from: []}\n", 7, 10, "a list")]
    [InlineData("  rules:\n  - from: x\n", 8, 11, "a list")]
    [InlineData("  rules:\n  - 5\n", 8, 5, "a mapping")]
    [InlineData("  action: [ALLOW]\n", 7, 11, "a string")]
    [InlineData("  selector:\n    matchLabels:\n      version: 1\n", 9, 16, "a string")]
    public void Wrong_types_are_located(string spec, int line, int col, string expected) =>
        Expect(Policy(spec), Codes.WrongType, line, col, expected);

    [Fact]
    public void Unquoted_number_where_a_string_is_expected_says_to_quote_it() =>
        Expect(Policy("  rules:\n  - to:\n    - operation:\n        ports: [8080]\n"), Codes.WrongType, 10, 17, "quote it: \"8080\"");

    [Fact]
    public void Missing_kind_and_name()
    {
        Expect("apiVersion: v1\nmetadata: {name: x}\n", Codes.MissingField, 1, 1, "'kind'");
        Expect("apiVersion: v1\nkind: Pod\nmetadata:\n  namespace: x\n", Codes.MissingField, 4, 3, "'name'");
    }

    [Theory]
    [InlineData("from")]
    [InlineData("to")]
    public void Present_but_empty_from_or_to(string field) =>
        Expect(Policy($"  rules:\n  - {field}: []\n"), Codes.EmptyFromTo, 8, 5);

    [Theory]
    [InlineData("from", "source")]
    [InlineData("to", "operation")]
    public void Source_or_operation_without_field(string field, string inner) =>
        Expect(Policy($"  rules:\n  - {field}:\n    - {inner}: {{}}\n"), Codes.EmptySourceOperation, 9, 15 + inner.Length - 6);

    [Fact]
    public void From_entry_without_source() =>
        Expect(Policy("  rules:\n  - from:\n    - {}\n"), Codes.MissingField, 9, 7, "'source'");

    [Theory]
    [InlineData("  selector:\n    matchLabels: {a: b}\n  targetRef:\n    kind: Service\n    name: s\n", 9, 3)]
    [InlineData("  targetRef:\n    kind: Service\n    name: s\n  targetRefs:\n  - kind: Service\n    name: s\n", 10, 3)]
    public void Only_one_attachment(string spec, int line, int col) =>
        Expect(Policy(spec), Codes.SelectorWithTargetRef, line, col);

    [Theory]
    [InlineData("principals")] [InlineData("notPrincipals")] [InlineData("namespaces")] [InlineData("notNamespaces")]
    public void Service_accounts_with_identity_fields(string other) =>
        Expect(Policy($"  rules:\n  - from:\n    - source:\n        serviceAccounts: [a]\n        {other}: [b]\n"), Codes.ServiceAccountsWithIdentity, 10, 9, other);

    [Fact]
    public void Scalar_document_is_not_an_object() => Expect("just a string\n", Codes.NotAnObject, 1, 1);

    [Fact]
    public void Unsupported_api_version() =>
        Expect("apiVersion: security.istio.io/v2\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {}\n", Codes.UnsupportedApiVersion, 1, 13);

    [Fact]
    public void Duplicate_keys() => Expect(Policy("  action: DENY\n  action: ALLOW\n"), Codes.DuplicateKey, 8, 3, "line 7");

    [Fact]
    public void Alias_bomb_is_refused()
    {
        var sb = new System.Text.StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i < 12; i++) sb.Append($"a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10))}]\n");
        var (_, bag) = Build(sb.ToString());
        Assert.Contains(bag.Items, d => d.Code == Codes.DocumentTooLarge.Code);
    }

    [Fact]
    public void Aliases_and_merge_keys_work()
    {
        var (w, bag) = Build("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: p, namespace: a}
            spec:
              rules:
              - from: &src
                - source: {namespaces: [x]}
              - from: *src
            ---
            apiVersion: v1
            kind: Namespace
            metadata:
              <<: {name: merged}
            """);
        Assert.False(bag.HasErrors, Dump(bag));
        Assert.Equal(2, Single(w).Rules.Length);
        Assert.Contains(w.Namespaces, n => n.Name == "merged");
    }

    [Fact]
    public void Empty_input_is_an_error() => Expect("", Codes.NoObjects, 1, 1);

    [Fact]
    public void Comment_only_input_is_an_error() => Expect("# nothing here\n---\n", Codes.NoObjects, 1, 1);

    // ---- values ----

    [Fact]
    public void Empty_strings_in_lists()
    {
        Expect(Policy("  rules:\n  - from:\n    - source:\n        namespaces: [\"\"]\n"), Codes.EmptyString, 10, 22);
        Expect(Policy("  rules:\n  - to:\n    - operation:\n        methods: [\"\"]\n"), Codes.EmptyString, 10, 19);
        Expect(Policy("  rules:\n  - when:\n    - key: source.namespace\n      values: [\"a\", \"\"]\n"), Codes.EmptyString, 10, 21);
    }

    [Theory]
    [InlineData("\"app*\": web", 9, 7, "key")]
    [InlineData("app: \"*\"", 9, 12, "value")]
    public void Wildcards_in_selector_labels(string label, int line, int col, string what) =>
        Expect(Policy($"  selector:\n    matchLabels:\n      {label}\n"), Codes.LabelWildcard, line, col, what);

    [Fact]
    public void Empty_label_key() => Expect(Policy("  selector:\n    matchLabels:\n      \"\": web\n"), Codes.EmptyLabelKey, 9, 7);

    [Theory]
    [InlineData("\"*\"")] [InlineData("\"ns/*\"")] [InlineData("a/b/c")] [InlineData("/sa")] [InlineData("ns/")]
    public void Bad_service_accounts(string sa) =>
        Expect(Policy($"  rules:\n  - from:\n    - source:\n        serviceAccounts: [{sa}]\n"), Codes.BadServiceAccount, 10, 27);

    [Theory]
    [InlineData("a*b")] [InlineData("**")] [InlineData("*a*")]
    public void Trust_domain_wildcard_misuse(string td) =>
        Expect(Policy($"  rules:\n  - from:\n    - source:\n        trustDomains: [\"{td}\"]\n"), Codes.BadTrustDomain, 10, 24);

    [Fact]
    public void Bad_object_addresses()
    {
        Expect("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus:\n  podIP: 010.0.0.1\n", Codes.BadObjectIp, 5, 10);
        Expect("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  clusterIP: 10.0.0\n", Codes.BadObjectIp, 5, 14);
    }

    [Theory]
    [InlineData("\"8080\"")] [InlineData("Http")] [InlineData("a-very-long-port-name")] [InlineData("-http")]
    public void Bad_target_ports(string t) =>
        Expect($"apiVersion: v1\nkind: Service\nmetadata: {{name: s}}\nspec:\n  ports:\n  - port: 80\n    targetPort: {t}\n", Codes.BadTargetPort, 7, 17);

    [Theory]
    [InlineData("0")] [InlineData("65536")] [InlineData("-3")]
    public void Service_port_out_of_range(string p) =>
        Expect($"apiVersion: v1\nkind: Service\nmetadata: {{name: s}}\nspec:\n  ports:\n  - port: {p}\n", Codes.BadNumber, 6, 11);

    [Theory]
    [InlineData("Bad_Name")] [InlineData("-x")] [InlineData("UPPER")]
    public void Bad_names(string name) =>
        Expect($"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n", Codes.BadName, 4, 9);

    // ---- actions ----

    [Fact]
    public void Unknown_action() => Expect(Policy("  action: REJECT\n"), Codes.UnknownAction, 7, 11);

    [Theory]
    [InlineData("  action: DENY\n")]
    [InlineData("  action: DENY\n  rules: []\n")]
    public void Deny_without_rules(string spec) => Expect(Policy(spec), Codes.DenyWithoutRules, 7, 3);

    [Fact]
    public void Custom_without_rules_and_provider()
    {
        var (_, bag) = Build(Policy("  action: CUSTOM\n"));
        Has(bag, Codes.CustomWithoutRules, 7, 3);
        Has(bag, Codes.CustomWithoutProvider, 7, 3);
    }

    [Fact]
    public void Provider_with_non_custom_action() =>
        Expect(Policy("  action: DENY\n  provider: {name: x}\n  rules: [{}]\n"), Codes.ProviderWithoutCustom, 8, 3);

    [Theory]
    [InlineData("    - source:\n        principals: [a]\n", 10, 9, "principals")]
    [InlineData("    - source:\n        notNamespaces: [a]\n", 10, 9, "notNamespaces")]
    [InlineData("    - source:\n        serviceAccounts: [a]\n", 10, 9, "serviceAccounts")]
    public void Custom_with_identity_fields(string from, int line, int col, string field) =>
        Expect(Policy($"  action: CUSTOM\n  provider: {{name: ext}}\n  rules:\n  - from:\n{from}"), Codes.CustomWithIdentity, line + 2, col, field);

    [Fact]
    public void Custom_with_identity_condition() =>
        Expect(Policy("  action: CUSTOM\n  provider: {name: ext}\n  rules:\n  - when:\n    - key: source.principal\n      values: [a]\n"), Codes.CustomWithIdentity, 11, 12);

    [Theory]
    [InlineData("AUDIT")] [InlineData("CUSTOM")]
    public void Dry_run_on_audit_or_custom(string action) =>
        Expect(Policy($"  action: {action}\n  provider: {{name: ext}}\n  rules: [{{}}]\n".Replace(action == "AUDIT" ? "  provider: {name: ext}\n" : "\u0000", ""),
            annotations: "  annotations:\n    istio.io/dry-run: \"true\"\n"), Codes.DryRunOnAuditCustom, 7, 5, action);

    [Fact]
    public void Dry_run_annotation_must_be_a_quoted_string() =>
        Expect(Policy("  action: DENY\n  rules: [{}]\n", annotations: "  annotations:\n    istio.io/dry-run: true\n"), Codes.WrongType, 7, 23, "quote it");

    // ---- when ----

    [Fact]
    public void When_without_key() => Expect(Policy("  action: DENY\n  rules:\n  - when:\n    - values: [a]\n"), Codes.WhenMissingKey, 10, 7);

    [Theory]
    [InlineData("")]
    [InlineData("      values: []\n")]
    [InlineData("      values: []\n      notValues: []\n")]
    public void When_without_values(string values) =>
        Expect(Policy($"  action: DENY\n  rules:\n  - when:\n    - key: source.ip\n{values}"), Codes.WhenNoValues, 10, 7);

    [Theory]
    [InlineData("source.ip", "10.0.0.0/33", "KM2002")]
    [InlineData("destination.ip", "010.1.1.1", "KM2002")]
    [InlineData("remote.ip", "x", "KM2002")]
    [InlineData("destination.port", "http", "KM2001")]
    [InlineData("destination.port", "70000", "KM2001")]
    public void When_values_of_ip_and_port_keys_are_checked(string key, string value, string code)
    {
        var (_, bag) = Build(Policy($"  action: DENY\n  rules:\n  - when:\n    - key: {key}\n      values: [\"{value}\"]\n"));
        var d = Assert.Single(bag.Items, x => x.Code == code);
        Assert.Equal((11, 16), (d.Location.Line, d.Location.Column));
    }

    [Theory]
    [InlineData("source.serviceAccount")] [InlineData("source.trustDomain")] [InlineData("remote.ip")] [InlineData("connection.sni")]
    [InlineData("request.headers[x-user]")] [InlineData("request.auth.principal")] [InlineData("request.auth.audiences")]
    [InlineData("request.auth.presenter")] [InlineData("request.auth.claims[groups]")] [InlineData("request.auth.claims[nested][key]")]
    [InlineData("experimental.envoy.filters.network.mysql_proxy[db.table]")]
    public void Accepted_l7_keys_warn_but_do_not_fail(string key)
    {
        var (w, bag) = Build(Policy($"  action: DENY\n  rules:\n  - when:\n    - key: \"{key}\"\n      values: [\"1.2.3.4\"]\n"));
        Assert.False(bag.HasErrors, Dump(bag));
        Has(bag, Codes.L7RuleNoEffect, 9, 5);
        Assert.True(Single(w).Rules[0].Clauses[0].Matches[0].IsEmpty);
    }

    [Theory]
    [InlineData("request.auth.claims[nested][key]", true)]
    [InlineData("request.headers[]", false)]
    [InlineData("request.headers[x", false)]
    [InlineData("request.headers", false)]
    [InlineData("request.auth.claims", false)]
    public void Bracketed_keys_need_a_name_and_closing_bracket(string key, bool ok)
    {
        var (_, bag) = Build(Policy($"  action: DENY\n  rules:\n  - when:\n    - key: \"{key}\"\n      values: [a]\n"));
        if (ok) Lacks(bag, Codes.WhenBadBracket);
        else Has(bag, Codes.WhenBadBracket, 10, 12);
    }

    [Theory]
    [InlineData("destination.namespace", "metadata.namespace")]
    [InlineData("destination.labels[app]", "selector")]
    [InlineData("destination.name", "selector")]
    [InlineData("destination.user", "selector")]
    public void Destination_keys_are_errors_with_a_hint(string key, string hint) =>
        Expect(Policy($"  action: DENY\n  rules:\n  - when:\n    - key: \"{key}\"\n      values: [a]\n"), Codes.WhenDestinationKey, 10, 12, hint);

    [Theory]
    [InlineData("source.ipp", "source.ip")]
    [InlineData("source.namepsace", "source.namespace")]
    [InlineData("source.principals", "source.principal")]
    [InlineData("whatever", null)]
    public void Unknown_keys_are_errors(string key, string? near)
    {
        var (_, bag) = Build(Policy($"  action: DENY\n  rules:\n  - when:\n    - key: \"{key}\"\n      values: [a]\n"));
        var d = Has(bag, Codes.WhenUnknownKey, 10, 12);
        if (near is null) Assert.DoesNotContain("did you mean", d.Message);
        else Assert.Contains($"'{near}'", d.Message);
    }

    // ---- ambient lints ----

    [Fact]
    public void Sidecar_only_keys_are_named()
    {
        var (_, bag) = Build(Policy("  action: DENY\n  rules:\n  - when:\n    - key: source.serviceAccount\n      values: [a/b]\n"));
        Has(bag, Codes.WhenSidecarOnlyKey, 10, 12);
    }

    private const string ShopWorld = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: web-0, namespace: shop, labels: {app: web}}
        spec:
          containers:
          - name: web
            ports: [{name: http, containerPort: 8080}]
        status: {podIP: 10.0.0.1}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop}
        spec:
          selector: {app: web}
          ports: [{port: 80, targetPort: http}, {port: 9000, targetPort: 9000}]
        ---

        """;

    private const int ShopLines = 20;

    [Theory]
    [InlineData("  selector:\n    matchLabels: {app: web}\n  rules:\n  - to:\n    - operation:\n        ports: [\"80\"]\n", true)]
    [InlineData("  rules:\n  - to:\n    - operation:\n        notPorts: [\"80\"]\n", true)]
    [InlineData("  action: DENY\n  rules:\n  - when:\n    - key: destination.port\n      values: [\"80\"]\n", true)]
    [InlineData("  rules:\n  - to:\n    - operation:\n        ports: [\"8080\"]\n", false)]
    [InlineData("  rules:\n  - to:\n    - operation:\n        ports: [\"9000\"]\n", false)]
    public void Service_port_where_the_target_port_is_meant(string spec, bool warn)
    {
        var (_, bag) = Build(ShopWorld + Policy(spec, ns: "shop"));
        if (!warn) { Lacks(bag, Codes.ServicePortNotTarget); return; }
        var d = Assert.Single(bag.Items, x => x.Code == Codes.ServicePortNotTarget.Code);
        Assert.Contains("write 8080", d.Message);
        Assert.True(d.Location.Line > ShopLines);
    }

    [Fact]
    public void Service_port_lint_in_a_global_policy()
    {
        var (_, bag) = Build(ShopWorld + Policy("  rules:\n  - to:\n    - operation:\n        ports: [\"80\"]\n", ns: "istio-system"));
        Has(bag, Codes.ServicePortNotTarget, ShopLines + 10, 17);
    }

    [Fact]
    public void Selector_or_namespace_policy_that_selects_nothing()
    {
        var (_, bag) = Build(ShopWorld + Policy("  selector:\n    matchLabels: {app: api}\n", ns: "shop"));
        Has(bag, Codes.SelectsNothing, ShopLines + 7, 3);
        (_, bag) = Build(ShopWorld + Policy("  {}\n", ns: "empty"));
        var d = Has(bag, Codes.SelectsNothing, ShopLines + 1, 1);
        Assert.Contains("namespace 'empty'", d.Message);
        (_, bag) = Build(ShopWorld + Policy("  {}\n", ns: "shop"));
        Lacks(bag, Codes.SelectsNothing);
    }

    [Fact]
    public void Without_pods_nothing_is_said_about_selection() =>
        Lacks(Build(Policy("  selector:\n    matchLabels: {app: api}\n")).Bag, Codes.SelectsNothing);

    [Theory]
    [InlineData("namespaces: [shopp]", true)]
    [InlineData("notNamespaces: [shopp]", true)]
    [InlineData("namespaces: [shop]", false)]
    [InlineData("namespaces: [\"sh*\"]", false)]
    [InlineData("namespaces: [\"*op\"]", false)]
    [InlineData("namespaces: [\"x*\"]", true)]
    [InlineData("namespaces: [\"*\"]", false)]
    [InlineData("serviceAccounts: [shopp/web]", true)]
    [InlineData("serviceAccounts: [web]", false)]
    public void Unknown_source_namespaces(string field, bool warn)
    {
        var (_, bag) = Build(ShopWorld + Policy($"  rules:\n  - from:\n    - source:\n        {field}\n", ns: "shop"));
        if (warn) Assert.Single(bag.Items, x => x.Code == Codes.UnknownNamespace.Code && x.Location.Line == ShopLines + 10);
        else Lacks(bag, Codes.UnknownNamespace);
    }

    [Fact]
    public void Unknown_namespace_condition() =>
        Expect(ShopWorld + Policy("  action: DENY\n  rules:\n  - when:\n    - key: source.namespace\n      values: [prod]\n", ns: "shop"),
            Codes.UnknownNamespace, ShopLines + 11, 16);

    [Fact]
    public void Diagnostics_name_their_object()
    {
        var (_, bag) = Build(Policy("  action: REJECT\n", "deny-all", "shop"));
        Assert.Equal("AuthorizationPolicy shop/deny-all", bag.Items.Single(d => d.Code == Codes.UnknownAction.Code).Object);
    }

    [Fact]
    public void Did_you_mean_handles_case_underscores_and_typos()
    {
        string[] fields = ["notPrincipals", "principals", "namespaces", "ipBlocks"];
        Assert.Equal("notPrincipals", ObjectReader.DidYouMean("not_principals", fields));
        Assert.Equal("notPrincipals", ObjectReader.DidYouMean("not-principals", fields));
        Assert.Equal("principals", ObjectReader.DidYouMean("pirncipals", fields));
        Assert.Equal("ipBlocks", ObjectReader.DidYouMean("ip_block", fields));
        Assert.Null(ObjectReader.DidYouMean("hosts", fields));
    }
}
