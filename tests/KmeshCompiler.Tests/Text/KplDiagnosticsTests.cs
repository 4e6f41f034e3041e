using System.Text;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Text;

namespace KmeshCompiler.Tests.Text;

/// <summary>Errors are located diagnostics (code, line, column, a useful expectation), parsing goes on
/// after an error, and no input throws or prints.</summary>
public class KplDiagnosticsTests
{
    private static List<Diagnostic> Diags(string text)
    {
        var bag = new DiagnosticBag();
        KplFrontend.Parse(text, "f.kpl", bag);
        return bag.Sorted().ToList();
    }

    private static Diagnostic Single(string text)
    {
        var d = Diags(text);
        Assert.True(d.Count == 1, "expected one diagnostic, got:\n" + string.Join("\n", d));
        return d[0];
    }

    private static void At(Diagnostic d, string code, int line, int col)
    {
        Assert.True(d.Code == code && d.Location.Line == line && d.Location.Column == col, $"expected {code} at {line}:{col}, got {d}");
        Assert.Equal("f.kpl", d.Location.File);
    }

    [Fact]
    public void Missing_brace_names_what_was_expected()
    {
        var d = Diags("namespace a\npolicy a/p allow\n  scope namespace\n}\n")[0];
        At(d, "KM6001", 2, 17);
        Assert.Contains("expected '{'", d.Message);
        Assert.Contains("found end of line", d.Message);
    }

    [Fact]
    public void Unknown_statement_lists_the_statements()
    {
        var d = Diags("namespace a\npolcy a/p allow {}\n");
        At(d[0], "KM6001", 2, 1);
        Assert.Contains("'namespace'", d[0].Message);
        Assert.Contains("'policy'", d[0].Message);
        Assert.Contains("found 'polcy'", d[0].Message);
    }

    [Fact]
    public void Errors_do_not_stop_later_errors_in_the_same_file()
    {
        var d = Diags("namespace a\nnode n { region }\nfoo bar\nworkload a/w {\n  capacity x\n}\npolicy a/p allow {\n  rule { match { ports 80 } }\n  rule { rule }\n}\nnamespace {\n");
        Assert.Contains(d, x => x.Location.Line == 2 && x.Code == "KM6008");
        Assert.Contains(d, x => x.Location.Line == 3 && x.Location.Column == 1 && x.Code == "KM6001" && x.Message.Contains("found 'foo'"));
        Assert.Contains(d, x => x.Location.Line == 5 && x.Code == "KM6007");
        Assert.Contains(d, x => x.Location.Line == 9 && x.Location.Column == 10 && x.Code == "KM6001");
        Assert.Contains(d, x => x.Location.Line == 11 && x.Code == "KM6001");
    }

    [Fact]
    public void Binder_errors_after_a_syntax_error_are_still_reported()
    {
        var d = Diags("node n {\n  regoin x\n}\nworkload a/w {\n  capacity lots\n}\n} stray\n");
        Assert.Contains(d, x => x.Code == "KM6005" && x.Location.Line == 2 && x.Location.Column == 3 && x.Message.Contains("did you mean 'region'"));
        Assert.Contains(d, x => x.Code == "KM6007" && x.Location.Line == 5 && x.Location.Column == 12);
        Assert.Contains(d, x => x.Code == "KM6001" && x.Location.Line == 7);
    }

    [Fact]
    public void Unknown_match_field_suggests_the_near_one()
    {
        var d = Single("policy a/p deny {\n  rule {\n    match {\n      not_principals x\n    }\n  }\n}\n");
        At(d, "KM6005", 4, 7);
        Assert.Contains("did you mean 'not-principals'", d.Message);
    }

    [Fact]
    public void Repeated_field_is_an_error_at_the_second()
    {
        var d = Single("policy a/p deny {\n  rule {\n    match {\n      ports 80\n      ports 81\n    }\n  }\n}\n");
        At(d, "KM6006", 5, 7);
    }

    [Theory]
    [InlineData("ports 80x", 24, "not a valid port")]
    [InlineData("source-ips 010.0.0.1", 29, "leading zero")]
    [InlineData("source-ips 10.0.0.0/33", 29, "longer than")]
    [InlineData("service-accounts bare", 35, "namespace/serviceaccount")]
    [InlineData("principals glob(x)", 29, "not a string match")]
    [InlineData("ports 99999999999", 24, "not a valid port")]
    public void Bad_values_are_located(string field, int col, string message)
    {
        var d = Single($"policy a/p deny {{\n  rule {{ match {{ {field} }} }}\n}}\n");
        At(d, "KM6007", 2, col);
        Assert.Contains(message, d.Message);
    }

    [Fact]
    public void Bad_action_is_reported()
    {
        var d = Single("policy a/p audit {\n}\n");
        At(d, "KM6007", 1, 12);
        Assert.Contains("'allow' or 'deny'", d.Message);
    }

    [Fact]
    public void Unterminated_string_is_named()
    {
        var d = Diags("namespace \"abc\nnamespace b\n");
        At(d[0], "KM6002", 1, 11);
    }

    [Fact]
    public void Bad_character_is_named()
    {
        var d = Diags("namespace a,b\n");
        At(d[0], "KM6003", 1, 12);
        Assert.Contains("','", d[0].Message);
    }

    [Fact]
    public void Bad_escape_is_located()
    {
        var d = Single("namespace \"a\\qb\"\n");
        At(d, "KM6009", 1, 13);
    }

    [Fact]
    public void Duplicate_item_in_one_file()
    {
        var d = Single("namespace a\nnamespace a\n");
        At(d, "KM6012", 2, 1);
    }

    [Fact]
    public void Test_statements_are_errors_in_a_world_file()
    {
        var bag = new DiagnosticBag();
        KplFrontend.Read(new SourceText("w.kpl", "expect connection from a/b to c/d port 80 allowed\n"u8.ToArray()), bag);
        Assert.Equal("KM6011", Assert.Single(bag.Items).Code);
    }

    [Fact]
    public void Invalid_utf8_is_a_located_diagnostic()
    {
        var bytes = Encoding.UTF8.GetBytes("namespace a\nnamespace b").Concat(new byte[] { 0xC3, 0x28 }).ToArray();
        var bag = new DiagnosticBag();
        var w = KplFrontend.Read(new SourceText("u.kpl", bytes), bag);
        var d = Assert.Single(bag.Items);
        Assert.Equal("KM6004", d.Code);
        Assert.Equal(2, d.Location.Line);
        Assert.Equal(12, d.Location.Column);
        Assert.Empty(w.Namespaces);
    }

    [Fact]
    public void A_10_MB_single_line_is_handled()
    {
        var sb = new StringBuilder("policy a/p deny { rule { match { ports");
        while (sb.Length < 10_000_000) sb.Append(" 8080");
        sb.Append(" } } }");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var bag = new DiagnosticBag();
        var doc = KplFrontend.Parse(sb.ToString(), "big.kpl", bag);
        Assert.False(bag.HasErrors);
        Assert.True(doc.World.Policies[0].Rules[0].Clauses[0].Matches[0].DestinationPorts.Length > 1_000_000);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(120), $"took {sw.Elapsed}");

        var junk = new string('x', 10_000_000) + " \"unterminated";
        var bag2 = new DiagnosticBag();
        KplFrontend.Parse(junk, "junk.kpl", bag2);
        Assert.True(bag2.HasErrors);
        Assert.All(bag2.Items, d => Assert.True(d.Message.Length < 500));
    }

    [Fact]
    public void Deep_nesting_gives_diagnostics_not_a_crash()
    {
        var bag = new DiagnosticBag();
        KplFrontend.Parse("policy a/p deny {\n" + string.Concat(Enumerable.Repeat("rule { ", 200_000)), "deep.kpl", bag);
        Assert.True(bag.HasErrors);
        Assert.Contains(bag.Items, d => d.Code == "KM6001" && d.Location.Line == 2 && d.Location.Column == 8);
        Assert.True(bag.Items.Count <= KplSyntax.MaxErrors + 1);

        var many = new DiagnosticBag();
        KplFrontend.Parse(string.Concat(Enumerable.Repeat("junk line\n", 100_000)), "junk.kpl", many);
        Assert.Equal(KplSyntax.MaxErrors + 1, many.Items.Count);
        Assert.Equal("KM6010", many.Items[^1].Code);

        var bag2 = new DiagnosticBag();
        KplFrontend.Parse(string.Concat(Enumerable.Repeat("{ (", 200_000)), "deep2.kpl", bag2);
        Assert.True(bag2.HasErrors);
    }

    [Fact]
    public void Random_garbage_never_throws_or_prints()
    {
        var oldOut = Console.Out;
        var oldErr = Console.Error;
        var captured = new StringWriter();
        Console.SetOut(captured);
        Console.SetError(captured);
        try
        {
            var rng = new Random(42);
            const string alphabet = "{}();\"\\#\n \tabcnodepolicyrulematch/*.:0123456789@->é";
            for (int i = 0; i < 300; i++)
            {
                var chars = new char[rng.Next(0, 400)];
                for (int k = 0; k < chars.Length; k++) chars[k] = alphabet[rng.Next(alphabet.Length)];
                var bag = new DiagnosticBag();
                KplFrontend.Parse(new string(chars), "g.kpl", bag);
                Assert.All(bag.Items, d => Assert.True(d.Location.Line >= 1, d.ToString()));
            }
            // Mutations of a valid file: delete or duplicate one token's worth of text.
            string valid = System.IO.File.ReadAllText(Support.Repo.Path("golden", "ir", "tricky", "empty-levels.kpl"));
            for (int i = 0; i < 300; i++)
            {
                int at = rng.Next(valid.Length);
                string mutated = rng.Next(2) == 0 ? valid.Remove(at, Math.Min(rng.Next(1, 6), valid.Length - at)) : valid.Insert(at, valid.Substring(rng.Next(valid.Length - 5), 5));
                KplFrontend.Parse(mutated, "m.kpl", new DiagnosticBag());
            }
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
        Assert.Equal("", captured.ToString());
    }

    [Fact]
    public void Crlf_line_ends_and_a_bom_read_like_lf()
    {
        const string text = "# c\r\nnamespace a\r\n\r\npolicy a/p deny {\r\n  scope namespace\r\n  rule {\r\n    match {\r\n      ports 80\r\n    }\r\n  }\r\n}\r\n";
        var bag = new DiagnosticBag();
        var bytes = new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Encoding.UTF8.GetBytes(text)).ToArray();
        var doc = KplFrontend.ReadDocument(new SourceText("crlf.kpl", bytes), bag);
        Assert.Empty(bag.Items);
        Assert.Equal(KplPrinter.Print(KplFrontend.Parse(text.Replace("\r\n", "\n"), "lf.kpl", new DiagnosticBag())), KplPrinter.Print(doc));
        Assert.Equal([80u], doc.World.Policies[0].Rules[0].Clauses[0].Matches[0].DestinationPorts.ToArray());
    }

    [Theory]
    [InlineData("policy a/p deny {}\n", InputKind.Kpl)]
    [InlineData("# header\n\nworkload a/b\n", InputKind.Kpl)]
    [InlineData("apiVersion: v1\nkind: Namespace\n", InputKind.Kubernetes)]
    public void Stdin_is_recognised_by_content(string text, InputKind kind) =>
        Assert.Equal(kind, InputKinds.Classify(new SourceText("-", Encoding.UTF8.GetBytes(text))));
}
