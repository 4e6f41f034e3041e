using System.Text.Json;
using System.Xml.Linq;
using Json.Schema;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Kubernetes;

/// <summary>CI outputs as the tools users already run read them: SARIF that passes the SARIF 2.1.0
/// schema (tests/sarif) with documented rules, GitHub annotations without infos unless asked,
/// suppression, the closing summary, `explain`, colour and JUnit.</summary>
public class CiOutputTests
{
    private const string Mistakes = "tests/KmeshCompiler.Tests/Kubernetes/cases/mistakes.yaml";

    private static readonly Lazy<JsonSchema> Schema = new(() =>
        JsonSchema.FromText(File.ReadAllText(Repo.Path("tests", "sarif", "sarif-schema-2.1.0.json"))));

    private static void AssertValidSarif(string sarif)
    {
        using var doc = JsonDocument.Parse(sarif);
        var result = Schema.Value.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        if (!result.IsValid)
        {
            var errors = (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}")).Take(20);
            throw new Xunit.Sdk.XunitException("SARIF does not pass the 2.1.0 schema:\n" + string.Join("\n", errors));
        }
    }

    [Fact]
    public void The_schema_rejects_what_it_must()
    {
        // The validator is live: a log without runs, and a result with an unknown level, fail.
        Assert.False(Schema.Value.Evaluate(JsonDocument.Parse("""{"version":"2.1.0"}""").RootElement).IsValid);
        var bad = CliRunner.Run("validate", Mistakes, "--format", "sarif").Out.Replace("\"level\": \"note\"", "\"level\": \"info\"");
        Assert.False(Schema.Value.Evaluate(JsonDocument.Parse(bad).RootElement).IsValid);
    }

    [Theory]
    [InlineData(Mistakes)]
    [InlineData("tests/corpus/kubectl-list")]
    [InlineData("tests/corpus/host-network")]
    [InlineData("examples/bookinfo")]
    public void Sarif_passes_the_schema_with_documented_rules(string input)
    {
        var r = CliRunner.Run("validate", input, "--format", "sarif");
        AssertValidSarif(r.Out);
        using var doc = JsonDocument.Parse(r.Out);
        var run = doc.RootElement.GetProperty("runs")[0];
        string docs = File.ReadAllText(Repo.Path("docs", "diagnostics.md"));
        foreach (var rule in run.GetProperty("tool").GetProperty("driver").GetProperty("rules").EnumerateArray())
        {
            string id = rule.GetProperty("id").GetString()!;
            string helpUri = rule.GetProperty("helpUri").GetString()!;
            Assert.EndsWith($"docs/diagnostics.md#{id.ToLowerInvariant()}", helpUri);
            Assert.Contains($"<a id=\"{id.ToLowerInvariant()}\"></a>", docs);
            Assert.Contains(id, rule.GetProperty("fullDescription").GetProperty("text").GetString());
            Assert.Contains(helpUri, rule.GetProperty("help").GetProperty("markdown").GetString());
            Assert.DoesNotContain("{0}", rule.GetProperty("shortDescription").GetProperty("text").GetString());
        }
        foreach (var res in run.GetProperty("results").EnumerateArray())
        {
            var loc = res.GetProperty("locations")[0].GetProperty("physicalLocation").GetProperty("artifactLocation");
            Assert.False(loc.GetProperty("uri").GetString()!.StartsWith('/'));
            Assert.Equal("%SRCROOT%", loc.GetProperty("uriBaseId").GetString());
        }
    }

    [Fact]
    public void Every_code_has_an_anchored_row_and_an_explanation()
    {
        string docs = File.ReadAllText(Repo.Path("docs", "diagnostics.md"));
        foreach (var (name, d) in Catalogue.All)
        {
            Assert.Contains($"| {d.Code} | {d.Severity.ToString().ToLowerInvariant()} | <a id=\"{d.Code.ToLowerInvariant()}\"></a>{name} |", docs);
            var e = CliRunner.Run("explain", d.Code.ToLowerInvariant());
            Assert.Equal(0, e.Exit);
            Assert.StartsWith($"{d.Code} ({d.Severity.ToString().ToLowerInvariant()}) {name} - ", e.Out);
            Assert.Contains(Catalogue.Template(d), e.Out);
        }
        var bad = CliRunner.Run("explain", "KM4103");
        Assert.Equal(2, bad.Exit);
        Assert.Contains("did you mean 'KM4003'?", bad.Err);
    }

    [Fact]
    public void Github_annotations_leave_infos_out_unless_asked()
    {
        var plain = CliRunner.Run("validate", Mistakes, "--format", "github").Out;
        Assert.DoesNotContain("::notice", plain);
        Assert.Contains("::warning", plain);
        var all = CliRunner.Run("validate", Mistakes, "--format", "github", "--min-severity", "info").Out;
        Assert.Contains("::notice", all);
        var errorsOnly = CliRunner.Run("validate", Mistakes, "--format", "github", "--min-severity", "error").Out;
        Assert.DoesNotContain("::warning", errorsOnly);
        Assert.Contains("::error", errorsOnly);
    }

    [Fact]
    public void Suppression_by_flag_and_annotation_is_counted()
    {
        static JsonElement Summary(CliResult r) => JsonDocument.Parse(r.Out).RootElement.GetProperty("summary");
        var before = Summary(CliRunner.Run("validate", "tests/corpus/kustomize", "--format", "json"));
        Assert.Equal(1, before.GetProperty("warnings").GetInt32());
        Assert.Equal(0, before.GetProperty("suppressed").GetInt32());
        var after = CliRunner.Run("validate", "tests/corpus/kustomize", "--format", "json", "--suppress", "KM4013=logistics/prod-shipper-*", "--suppress", "KM1010");
        Assert.Equal(0, Summary(after).GetProperty("warnings").GetInt32());
        Assert.Equal(2, Summary(after).GetProperty("suppressed").GetInt32());
        Assert.DoesNotContain("KM4013", after.Out);
        // Another object's name does not match.
        Assert.Equal(1, Summary(CliRunner.Run("validate", "tests/corpus/kustomize", "--format", "json", "--suppress", "KM4013=logistics/other")).GetProperty("warnings").GetInt32());
        Assert.Equal(2, CliRunner.Run("validate", "tests/corpus/kustomize", "--suppress", "4013").Exit);

        string yaml = """
            apiVersion: v1
            kind: Pod
            metadata: {name: p, namespace: shop, labels: {app: p}}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata:
              name: later
              namespace: shop
              annotations:
                kmesh.io/suppress: "KM4013, KM4016"
            spec:
              selector: {matchLabels: {app: not-yet}}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: other, namespace: shop}
            spec:
              selector: {matchLabels: {app: not-yet}}

            """;
        string dir = Path.Combine(Path.GetTempPath(), $"km-sup-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "p.yaml"), yaml);
            var r = CliRunner.Run("validate", dir, "--format", "json");
            Assert.Equal(2, Summary(r).GetProperty("suppressed").GetInt32());
            Assert.Contains("AuthorizationPolicy shop/other", r.Out);
            Assert.DoesNotContain("AuthorizationPolicy shop/later", r.Out);
            // Errors are never suppressed.
            File.WriteAllText(Path.Combine(dir, "p.yaml"), yaml.Replace("app: not-yet}}\n---", "app: not-yet}}\n  action: NOPE\n---"));
            var e = CliRunner.Run("validate", dir, "--suppress", "KM3001");
            Assert.Equal(1, e.Exit);
            Assert.Contains("KM3001", e.Out);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void The_closing_line_counts_everything_and_says_ok_when_clean()
    {
        var clean = CliRunner.Run("validate", "tests/corpus/helm-rendered", "-n", "storefront");
        Assert.Equal("kmeshc: ok: 1 file, 7 objects: 0 errors, 0 warnings, 2 infos, 0 suppressed\n", clean.Err);
        var dirty = CliRunner.Run("validate", "tests/corpus/helm-rendered", "tests/corpus/no-namespace", "-n", "storefront", "--suppress", "KM1010=storefront/*");
        Assert.Equal("kmeshc: 2 files, 11 objects: 0 errors, 2 warnings, 0 infos, 2 suppressed\n", dirty.Err);
    }

    [Fact]
    public void Color_follows_the_flag()
    {
        Assert.Contains("\e[", CliRunner.Run("validate", Mistakes, "--color", "always").Out);
        Assert.DoesNotContain("\e[", CliRunner.Run("validate", Mistakes, "--color", "never").Out);
        Assert.DoesNotContain("\e[", CliRunner.Run("validate", Mistakes).Out); // not a terminal
        Assert.Equal(2, CliRunner.Run("validate", Mistakes, "--color", "sometimes").Exit);
    }

    [Fact]
    public void Junit_has_a_suite_per_file_and_failures_for_what_fails_the_run()
    {
        string[] inputs = ["tests/corpus/helm-rendered", "tests/corpus/no-namespace", "-n", "storefront"];
        var r = CliRunner.Run(["validate", .. inputs, "--format", "junit", "--suppress", "KM1010"]);
        var x = XDocument.Parse(r.Out);
        var suites = x.Root!.Elements("testsuite").ToList();
        Assert.Equal(2, suites.Count);
        Assert.Equal("0", x.Root.Attribute("failures")!.Value);
        Assert.Contains(suites, s => s.Elements("testcase").Any(c => c.Attribute("name")!.Value == "valid"));
        var strict = XDocument.Parse(CliRunner.Run(["validate", .. inputs, "--format", "junit", "--fail-on", "warning"]).Out);
        Assert.True(int.Parse(strict.Root!.Attribute("failures")!.Value) > 0);
        Assert.All(strict.Descendants("failure"), f => Assert.Matches(@"^KM\d{4}$", f.Attribute("type")!.Value));
        var errors = XDocument.Parse(CliRunner.Run("validate", Mistakes, "--format", "junit").Out);
        Assert.True(errors.Descendants("failure").Count() > 10);
    }
}
