using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Text;
using KmeshCompiler.Ir;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Text;

/// <summary>golden/ir holds IR as canonical .kpl; golden/kpltest holds policy tests and the reports
/// of failing ones. ./tools/update-golden rewrites them.</summary>
public class KplGoldenTests
{
    public static TheoryData<string> TrickyFiles()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Repo.Path("golden", "ir", "tricky"), "*.kpl").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [Trait("Category", "Golden")]
    [MemberData(nameof(TrickyFiles))]
    public void Tricky_case_is_canonical(string name)
    {
        string path = Repo.Path("golden", "ir", "tricky", name);
        var bag = new DiagnosticBag();
        var doc = KplFrontend.ReadDocument(new SourceText(path, File.ReadAllBytes(path)), bag);
        Assert.False(bag.HasErrors, string.Join("\n", bag.Items));
        Assert.Empty(doc.Comments.Orphans);
        Golden.Assert($"ir/tricky/{name}", KplPrinter.Print(doc));
        // The IR survives printing without comments too.
        Assert.Null(IrEquality.FirstDifference(doc.World, KplRoundTripTests.Parse(KplPrinter.Print(doc.World))));
    }

    [Fact]
    public void Every_kpl_file_in_the_repository_is_canonical()
    {
        var files = new[] { "golden/ir", "golden/kpltest", "examples" }
            .Select(d => Repo.Path(d)).Where(Directory.Exists)
            .SelectMany(d => Directory.GetFiles(d, "*.kpl", SearchOption.AllDirectories))
            .Select(f => Path.GetRelativePath(Repo.Root, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(files);
        var r = CliRunner.Run(["fmt", "--check", .. files]);
        Assert.True(r.Exit == 0, $"kmeshc fmt --check failed ({r.Exit}):\n{r.Out}{r.Err}");
    }

    [Fact]
    public void Passing_policy_tests_pass()
    {
        var r = CliRunner.Run("test", "golden/kpltest/pass");
        Assert.True(r.Exit == 0, r.Out + r.Err);
        Assert.Contains(" passed, 0 failed", r.Out);
        Assert.Equal("", r.Err);
    }

    public static TheoryData<string> FailingTests()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Repo.Path("golden", "kpltest", "fail"), "*.test.kpl").Order(StringComparer.Ordinal))
            data.Add($"golden/kpltest/fail/{Path.GetFileName(f)}");
        // Test files with syntax errors live beside the tests: everything under golden/ is canonical.
        data.Add("tests/KmeshCompiler.Tests/Text/Cases/errors.test.kpl");
        return data;
    }

    [Theory]
    [Trait("Category", "Golden")]
    [MemberData(nameof(FailingTests))]
    public void Failing_policy_test_report(string rel)
    {
        string name = Path.GetFileName(rel);
        string junit = Path.Combine(Path.GetTempPath(), $"kpl-junit-{Guid.NewGuid():N}.xml");
        try
        {
            var r = CliRunner.Run("test", rel, "--junit", junit);
            Assert.Equal(1, r.Exit);
            string baseName = name[..^".test.kpl".Length];
            Golden.Assert($"kpltest/fail/{baseName}.report.txt", $"$ kmeshc test {rel}\nexit {r.Exit}\n--- stdout\n{r.Out}--- stderr\n{r.Err}");
            Golden.Assert($"kpltest/fail/{baseName}.junit.xml", File.ReadAllText(junit));
        }
        finally
        {
            File.Delete(junit);
        }
    }

    [Fact]
    public void Fmt_check_lists_a_file_that_is_not_canonical_and_changes_nothing()
    {
        string dir = Path.Combine(Path.GetTempPath(), "kpl-fmt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string f = Path.Combine(dir, "a.kpl");
            const string messy = "# keep me\n\npolicy b/p   deny {   # and me\nrule{match{ports 80;namespaces x}}\n scope namespace }\nnamespace b\n";
            File.WriteAllText(f, messy);
            var r = CliRunner.Run("fmt", "--check", f);
            Assert.Equal(1, r.Exit);
            Assert.Contains(f, r.Out);
            Assert.Equal(messy, File.ReadAllText(f));

            r = CliRunner.Run("fmt", f);
            Assert.Equal(0, r.Exit);
            Assert.Equal("# keep me\n\nnamespace b\n\npolicy b/p deny {  # and me\n  scope namespace\n  rule {\n    match {\n      namespaces x\n      ports 80\n    }\n  }\n}\n", File.ReadAllText(f));
            Assert.Equal(0, CliRunner.Run("fmt", "--check", f).Exit);

            File.WriteAllText(f, "namespace b\npolicy b/p deny {\n  rule { match { ports 8o } }\n}\n");
            r = CliRunner.Run("fmt", f);
            Assert.Equal(1, r.Exit);
            Assert.Contains("a.kpl:3:24: error KM6007", r.Err);
            Assert.Contains("ports 8o", File.ReadAllText(f));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Kpl_is_accepted_as_input_by_other_commands()
    {
        var r = CliRunner.Run("check", "golden/ir/tricky/scopes-and-dry-run.kpl", "--src", "shop/frontend", "--dst", "shop/cart", "--port", "23", "--format", "json");
        Assert.True(r.Exit == 0, r.Err);
        Assert.Contains("\"policy\": \"istio-system/deny-telnet\"", r.Out);
        r = CliRunner.Run("validate", "tests/KmeshCompiler.Tests/Text/Cases/errors.test.kpl");
        Assert.NotEqual(0, r.Exit);
    }
}

public class KplExampleGoldenTests
{
    /// <summary>The IR of each example, as the loader builds it from its YAML.</summary>
    [Theory]
    [Trait("Category", "Golden")]
    [InlineData("bookinfo")]
    public void Example_ir(string example)
    {
        // Absolute paths: the printed IR carries no locations, and the working directory is shared.
        var load = InputLoader.Load([Repo.Path("examples", example)], FrontendSettings.Default);
        Assert.False(load.HasErrors, string.Join("\n", load.Diagnostics.Items));
        string text = KplPrinter.Print(load.World);
        Golden.Assert($"ir/{example}.kpl", text);
        Assert.Null(IrEquality.FirstDifference(load.World, KplRoundTripTests.Parse(text)));
    }

    [Fact]
    public void Example_policy_tests_pass()
    {
        var r = CliRunner.Run("test", "examples");
        Assert.True(r.Exit == 0, r.Out + r.Err);
        Assert.Matches(@"\n[1-9][0-9]* passed, 0 failed\n$", r.Out);
    }
}
