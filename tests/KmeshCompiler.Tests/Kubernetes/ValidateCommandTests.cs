using System.Text.Json;
using System.Text.RegularExpressions;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Kubernetes;

/// <summary>`kmeshc validate` per cli.md: formats, exit codes, golden output.</summary>
public class ValidateCommandTests
{
    private const string Mistakes = "tests/KmeshCompiler.Tests/Kubernetes/cases/mistakes.yaml";

    [Fact]
    public void Bookinfo_validates_with_exit_0()
    {
        var r = CliRunner.Run("validate", "examples/bookinfo");
        Assert.Equal(0, r.Exit);
        Assert.DoesNotContain(" error ", r.Out);
        Assert.Contains("0 errors", r.Err);
    }

    [Fact]
    public void Fail_on_warning_turns_warnings_into_exit_1()
    {
        Assert.Equal(1, CliRunner.Run("validate", "examples/bookinfo", "--fail-on", "warning").Exit);
        Assert.Equal(0, CliRunner.Run("validate", "examples/bookinfo", "--fail-on", "error").Exit);
    }

    [Fact]
    public void Errors_exit_1()
    {
        var r = CliRunner.Run("validate", Mistakes);
        Assert.Equal(1, r.Exit);
        foreach (var line in r.Out.TrimEnd('\n').Split('\n'))
            Assert.Matches(new Regex(@"^tests/KmeshCompiler\.Tests/Kubernetes/cases/mistakes\.yaml:\d+:\d+: (error|warning|info) KM\d{4}: \S.*$"), line);
    }

    [Fact]
    public void Enable_dry_run_keeps_the_policy()
    {
        var r = CliRunner.Run("validate", "examples/bookinfo", "--enable-dry-run");
        Assert.Equal(0, r.Exit);
        Assert.Contains("KM4017", r.Out);
        Assert.DoesNotContain("KM4003", r.Out);
    }

    [Fact]
    public void Json_has_the_documented_fields()
    {
        var r = CliRunner.Run("validate", Mistakes, "--format", "json");
        Assert.Equal(1, r.Exit);
        using var doc = JsonDocument.Parse(r.Out);
        var diags = doc.RootElement.GetProperty("diagnostics").EnumerateArray().ToList();
        Assert.NotEmpty(diags);
        foreach (var d in diags)
        {
            Assert.Matches(@"^KM\d{4}$", d.GetProperty("code").GetString());
            Assert.Contains(d.GetProperty("severity").GetString(), new[] { "error", "warning", "info" });
            Assert.Equal(Mistakes, d.GetProperty("file").GetString());
            Assert.True(d.GetProperty("line").GetInt32() > 0);
            Assert.True(d.GetProperty("column").GetInt32() > 0);
            Assert.False(string.IsNullOrEmpty(d.GetProperty("message").GetString()));
            Assert.True(d.TryGetProperty("object", out _));
        }
        var summary = doc.RootElement.GetProperty("summary");
        Assert.Equal(diags.Count(d => d.GetProperty("severity").GetString() == "error"), summary.GetProperty("errors").GetInt32());
        Assert.Equal(diags.Count(d => d.GetProperty("severity").GetString() == "warning"), summary.GetProperty("warnings").GetInt32());
    }

    [Fact]
    public void Sarif_is_2_1_0_with_one_result_per_diagnostic()
    {
        var json = CliRunner.Run("validate", Mistakes, "--format", "json").Out;
        var r = CliRunner.Run("validate", Mistakes, "--format", "sarif");
        Assert.Equal(1, r.Exit);
        using var sarif = JsonDocument.Parse(r.Out);
        using var plain = JsonDocument.Parse(json);
        Assert.Equal("2.1.0", sarif.RootElement.GetProperty("version").GetString());
        var run = sarif.RootElement.GetProperty("runs")[0];
        Assert.Equal("kmeshc", run.GetProperty("tool").GetProperty("driver").GetProperty("name").GetString());
        var rules = run.GetProperty("tool").GetProperty("driver").GetProperty("rules").EnumerateArray().Select(x => x.GetProperty("id").GetString()).ToList();
        var results = run.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(plain.RootElement.GetProperty("diagnostics").GetArrayLength(), results.Count);
        foreach (var res in results)
        {
            string id = res.GetProperty("ruleId").GetString()!;
            Assert.Equal(id, rules[res.GetProperty("ruleIndex").GetInt32()]);
            Assert.Contains(res.GetProperty("level").GetString(), new[] { "error", "warning", "note" });
            var loc = res.GetProperty("locations")[0].GetProperty("physicalLocation");
            Assert.Equal(Mistakes, loc.GetProperty("artifactLocation").GetProperty("uri").GetString());
            Assert.True(loc.GetProperty("region").GetProperty("startLine").GetInt32() > 0);
        }
    }

    [Fact]
    public void Github_annotations()
    {
        var r = CliRunner.Run("validate", Mistakes, "--format", "github");
        Assert.Equal(1, r.Exit);
        var lines = r.Out.TrimEnd('\n').Split('\n');
        Assert.All(lines, l => Assert.Matches(@"^::(error|warning|notice) file=tests/KmeshCompiler\.Tests/Kubernetes/cases/mistakes\.yaml,line=\d+,col=\d+::KM\d{4}: ", l));
        Assert.Contains(lines, l => l.StartsWith("::error ", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("--format", "xml")]
    [InlineData("--fail-on", "info")]
    [InlineData("--fail-on")]
    public void Usage_errors_exit_2(params string[] extra)
    {
        var r = CliRunner.Run(["validate", "examples/bookinfo", .. extra]);
        Assert.Equal(2, r.Exit);
        Assert.Contains("kmeshc validate --help", r.Err);
    }

    [Fact]
    public void Missing_input_is_a_usage_error() => Assert.Equal(2, CliRunner.Run("validate").Exit);

    [Fact]
    public void Help_describes_the_options()
    {
        var r = CliRunner.Run("validate", "--help");
        Assert.Equal(0, r.Exit);
        foreach (var s in new[] { "--format", "--fail-on", "--root-namespace", "--trust-domain", "--enable-dry-run", "INPUT" })
            Assert.Contains(s, r.Out);
    }

    [Fact]
    [Trait("Category", "Golden")]
    public void Golden_mistakes_text() => Golden.Assert("validate/mistakes.txt", CliRunner.Run("validate", Mistakes).Out);

    [Fact]
    [Trait("Category", "Golden")]
    public void Golden_mistakes_json() => Golden.Assert("validate/mistakes.json", CliRunner.Run("validate", Mistakes, "--format", "json").Out);

    [Fact]
    [Trait("Category", "Golden")]
    public void Golden_bookinfo_text() => Golden.Assert("validate/bookinfo.txt", CliRunner.Run("validate", "examples/bookinfo").Out);
}
