using System.Text.Json;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Image;
using KmeshCompiler.Lowering;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Diff;

/// <summary><c>kmeshc diff</c>: the worked example's outputs are golden; exit codes follow cli.md
/// (0 equal, 1 different, 2 error, never a partial diff); REV:PATH reads through git.</summary>
public class DiffCommandTests
{
    private const string Old = "examples/bookinfo";
    private const string New = "examples/bookinfo-change";

    [Trait("Category", "Golden")]
    [Theory]
    [InlineData("text")]
    [InlineData("json")]
    [InlineData("github")]
    [InlineData("sarif")]
    public void Semantic_diff_of_the_example_is_golden(string format)
    {
        var r = CliRunner.Run("diff", Old, New, "--semantic", "--format", format);
        Assert.True(r.Exit == 1, r.Err);
        string ext = format switch { "text" => "txt", "github" => "github.txt", "sarif" => "sarif.json", _ => "json" };
        Golden.Assert($"diff/bookinfo-change.{ext}", r.Out);
    }

    [Trait("Category", "Golden")]
    [Fact]
    public void Structural_diff_of_the_example_is_golden()
    {
        var r = CliRunner.Run("diff", Old, New, "--all-nodes");
        Assert.True(r.Exit == 1, r.Err);
        Golden.Assert("diff/bookinfo-change-structural.txt", r.Out);
    }

    [Fact]
    public void Json_has_the_contract_fields()
    {
        var r = CliRunner.Run("diff", Old, New, "--semantic", "--format", "json");
        using var doc = JsonDocument.Parse(r.Out);
        var change = doc.RootElement.GetProperty("changes")[0];
        foreach (var f in new[] { "destinations", "sources", "ports", "before", "after", "beforePolicies", "afterPolicies" })
            Assert.True(change.TryGetProperty(f, out _), f);
        Assert.Equal("deny", change.GetProperty("before").GetString());
        Assert.Equal("allow", change.GetProperty("after").GetString());
        Assert.Equal(6, doc.RootElement.GetProperty("summary").GetProperty("changes").GetInt32());
        Assert.Equal(1, doc.RootElement.GetProperty("summary").GetProperty("newlyDenied").GetInt32());
    }

    [Fact]
    public void Structural_json_lists_rows_per_node_and_table()
    {
        var r = CliRunner.Run("diff", Old, New, "--node", "node-b", "--format", "json");
        Assert.Equal(1, r.Exit);
        using var doc = JsonDocument.Parse(r.Out);
        var node = Assert.Single(doc.RootElement.GetProperty("nodes").EnumerateArray());
        Assert.Equal("node-b", node.GetProperty("node").GetString());
        var policies = node.GetProperty("tables").EnumerateArray().Single(t => t.GetProperty("table").GetString() == "km_policies");
        Assert.Contains(policies.GetProperty("added").EnumerateArray(), x => x.GetString()!.Contains("bookinfo/details-reviews-port-only"));
    }

    [Fact]
    public void Newly_allowed_from_outside_comes_first()
    {
        var r = CliRunner.Run("diff", Old, New, "--semantic", "--format", "json");
        using var doc = JsonDocument.Parse(r.Out);
        var first = doc.RootElement.GetProperty("changes")[0].GetProperty("sources");
        Assert.True(first.GetProperty("any").GetArrayLength() + first.GetProperty("outside").GetArrayLength() > 0);
    }

    [Fact]
    public void Equal_inputs_exit_0()
    {
        var r = CliRunner.Run("diff", Old, Old, "--semantic");
        Assert.True(r.Exit == 0, r.Out + r.Err);
        Assert.Contains("no connection changes its decision", r.Out);
        Assert.Equal(0, CliRunner.Run("diff", Old, Old, "--node", "node-a").Exit);
    }

    [Fact]
    public void Inputs_with_errors_exit_2_and_print_no_diff()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"kmesh-diff-bad-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "p.yaml"), "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: x\n  namespace: foo\nspec:\n  action: ALLOW\n  rules:\n    - from:\n        - source:\n            ipBlocks: [\"010.0.0.1\"]\n");
            var r = CliRunner.Run("diff", Old, dir, "--semantic");
            Assert.Equal(2, r.Exit);
            Assert.Equal("", r.Out);
            Assert.Contains("p.yaml:11:", r.Err);
            Assert.Contains("no diff is computed", r.Err);
            var json = CliRunner.Run("diff", Old, dir, "--semantic", "--format", "json");
            Assert.Equal(2, json.Exit);
            using var doc = JsonDocument.Parse(json.Out);
            Assert.True(doc.RootElement.GetProperty("diagnostics").GetArrayLength() > 0);
            Assert.False(doc.RootElement.TryGetProperty("changes", out _));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Usage_and_environment_errors_exit_2()
    {
        Assert.Equal(2, CliRunner.Run("diff", Old, "no/such/dir", "--semantic").Exit);
        Assert.Equal(2, CliRunner.Run("diff", Old, New).Exit); // structural needs --node or --all-nodes
        Assert.Equal(2, CliRunner.Run("diff", Old, New, "--semantic", "--node", "node-a").Exit);
        Assert.Equal(2, CliRunner.Run("diff", Old, New, "--format", "github", "--node", "node-a").Exit);
        var git = CliRunner.Run("diff", "no-such-revision-xyz:examples/bookinfo", New, "--semantic");
        Assert.Equal(2, git.Exit);
        Assert.Contains("git", git.Err);
    }

    [Fact]
    public void Old_side_read_from_a_git_revision()
    {
        // The example is committed, so HEAD has it; its files are named REV:path.
        var r = CliRunner.Run("diff", "HEAD:examples/bookinfo", New, "--semantic", "--format", "json");
        Assert.True(r.Exit == 1, r.Err);
        Assert.Contains("\"file\": \"HEAD:examples/bookinfo/policies.yaml\"", r.Out);
        var same = CliRunner.Run("diff", Old, New, "--semantic", "--format", "json");
        Assert.Equal(same.Out, r.Out.Replace("HEAD:examples/bookinfo/", "examples/bookinfo/"));
    }

    [Fact]
    public void Images_diff_like_the_inputs_they_came_from()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"kmesh-diff-img-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            string a = Path.Combine(dir, "a.img"), b = Path.Combine(dir, "b.img");
            Assert.Equal(0, CliRunner.Run("compile", Old, "--node", "node-a", "-o", a).Exit);
            Assert.Equal(0, CliRunner.Run("compile", New, "--node", "node-a", "-o", b).Exit);
            var fromImages = CliRunner.Run("diff", a, b);
            var fromInputs = CliRunner.Run("diff", Old, New, "--node", "node-a");
            Assert.Equal(1, fromImages.Exit);
            Assert.Equal(fromInputs.Out, fromImages.Out);
            Assert.Equal(0, CliRunner.Run("diff", a, a).Exit);
            // A semantic diff needs inputs.
            Assert.Equal(2, CliRunner.Run("diff", a, b, "--semantic").Exit);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ImageDiff_reports_rows_added_removed_and_changed_by_key()
    {
        var bag = new DiagnosticBag();
        var before = InputLoader.Load([Repo.Path(Old)], FrontendSettings.Default).World;
        var after = InputLoader.Load([Repo.Path(New)], FrontendSettings.Default).World;
        var ia = Lowerer.Lower(before, "node-a", bag)!;
        var ib = Lowerer.Lower(after, "node-a", bag)!;
        Assert.Empty(ImageDiff.Compare(ia, ia));
        var d = ImageDiff.Compare(ia, ib);
        var policies = Assert.Single(d, t => t.Table == Layout.MapPolicies);
        Assert.Contains(policies.Added.Concat(policies.Changed.Select(c => new ImageRow(c.Key, c.After))), r => r.Text.Contains("bookinfo/productpage-from-office"));

        var text = ImageDiff.Compare("t (2 entries)\n  a: 1\n  b: 2\n    more\n", "t (2 entries)\n  b: 3\n    more\n  c: 4\n");
        var t = Assert.Single(text);
        Assert.Equal("c", Assert.Single(t.Added).Key);
        Assert.Equal("a", Assert.Single(t.Removed).Key);
        var changed = Assert.Single(t.Changed);
        Assert.Equal("  b: 2\n    more", changed.Before);
        Assert.Equal("  b: 3\n    more", changed.After);
    }
}
