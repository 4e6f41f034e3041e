using System.Diagnostics;
using System.Text;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Tests.Support;
using static KmeshCompiler.Tests.Kubernetes.Kube;

namespace KmeshCompiler.Tests.Kubernetes;

/// <summary>Bad input never crashes: every case gives a located diagnostic and exit 1 (2 for a missing
/// path), in bounded time.</summary>
public class RobustnessTests
{
    private static (KmeshCompiler.Ir.World World, DiagnosticBag Bag, TimeSpan Elapsed) Timed(byte[] bytes, string path = "in.yaml")
    {
        var sw = Stopwatch.StartNew();
        var (w, bag) = Build([new SourceText(path, bytes)]);
        return (w, bag, sw.Elapsed);
    }

    private static Diagnostic FirstError(DiagnosticBag bag)
    {
        var d = bag.Sorted().FirstOrDefault(x => x.Severity == Severity.Error);
        Assert.True(d is not null, "expected an error");
        Assert.True(d!.Location.Line > 0 && d.Location.Column > 0, $"error without a position: {d}");
        return d;
    }

    [Theory]
    [InlineData("kind: Pod\nmetadata: {name: [}\n")]
    [InlineData("a: b: c\n")]
    [InlineData("- [\n")]
    [InlineData("\"unterminated\n")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: indent\n")]
    [InlineData("%YAML 9.9\n---\na: b\n")]
    [InlineData("!!binary x: y\n")]
    [InlineData("? [a, b]\n: c\n")]
    [InlineData("a: *missing\n")]
    [InlineData("a: &x 1\nb: &x 2\nc: *x\n")]
    [InlineData("{\"apiVersion\": \"v1\", \"kind\": \"Pod\",,}")]
    public void Malformed_yaml_gives_a_located_error(string text)
    {
        var (_, bag, _) = Timed(Encoding.UTF8.GetBytes(text));
        FirstError(bag);
    }

    [Fact]
    public void Wrong_types_everywhere_never_throw()
    {
        string[] values = ["1", "true", "null", "[]", "{}", "[1, [2]]", "{a: {b: c}}", "\"\"", "~", "-1", "0x10", ".inf"];
        string[] paths =
        [
            "metadata", "metadata.name", "metadata.labels", "metadata.annotations", "spec", "spec.rules", "spec.rules[0]",
            "spec.rules[0].from", "spec.rules[0].from[0].source", "spec.rules[0].to[0].operation.ports", "spec.rules[0].when",
            "spec.rules[0].when[0].key", "spec.selector", "spec.selector.matchLabels", "spec.action", "spec.provider",
        ];
        foreach (var kind in new[] { "AuthorizationPolicy", "Pod", "Service", "Node", "Namespace" })
            foreach (var path in paths)
                foreach (var v in values)
                {
                    string yaml = $"apiVersion: {(kind == "AuthorizationPolicy" ? "security.istio.io/v1" : "v1")}\nkind: {kind}\n" + Nest(path, v);
                    var (_, bag) = Build(yaml);
                    Assert.All(bag.Items, d => Assert.True(d.Location.Line > 0, d.ToString()));
                }
    }

    private static string Nest(string path, string value)
    {
        var sb = new StringBuilder();
        string indent = "";
        foreach (var part in path.Split('.'))
        {
            string name = part.Contains('[') ? part[..part.IndexOf('[')] : part;
            bool list = part.Contains('[');
            sb.Append(indent).Append(name).Append(':');
            if (part == path.Split('.').Last() && !list) { sb.Append(' ').Append(value).Append('\n'); break; }
            sb.Append('\n');
            indent += "  ";
            if (list) { sb.Append(indent).Append("- "); indent += "  "; if (part == path.Split('.').Last()) { sb.Append(value).Append('\n'); break; } sb.Append("x: 1\n"); }
        }
        return sb.ToString();
    }

    [Fact]
    public void Empty_file_is_an_error_at_line_one()
    {
        var (_, bag, _) = Timed([]);
        Assert.Equal(new KmeshCompiler.Ir.SourceLocation("in.yaml", 1, 1), Assert.Single(bag.Items).Location);
        Assert.Equal(Codes.NoObjects.Code, bag.Items[0].Code);
    }

    [Fact]
    public void Binary_garbage_is_an_error()
    {
        var rng = new Random(7);
        var bytes = new byte[1 << 20];
        rng.NextBytes(bytes);
        var (_, bag, elapsed) = Timed(bytes);
        FirstError(bag);
        Assert.True(elapsed < TimeSpan.FromSeconds(10), $"took {elapsed}");
    }

    [Fact]
    public void Printable_garbage_is_an_error_or_harmless()
    {
        var rng = new Random(11);
        const string alphabet = "abc:-[]{}&*!|>'\"%@`#,? \n\t0123456789";
        for (int i = 0; i < 200; i++)
        {
            var chars = new char[rng.Next(1, 400)];
            for (int j = 0; j < chars.Length; j++) chars[j] = alphabet[rng.Next(alphabet.Length)];
            var (_, bag, _) = Timed(Encoding.UTF8.GetBytes(chars));
            Assert.True(bag.HasErrors || bag.Items.All(d => d.Location.Line > 0));
        }
    }

    [Theory]
    [InlineData("[", "]")]
    [InlineData("{a: ", "}")]
    [InlineData("- ", "")]
    public void Deep_nesting_is_refused_without_recursion(string open, string close)
    {
        const int depth = 200_000;
        var sb = new StringBuilder();
        if (open == "- ")
            for (int i = 0; i < 2_000; i++) sb.Append(new string(' ', i * 2)).Append("- ").Append(i == 1_999 ? "x\n" : "\n");
        else
        {
            for (int i = 0; i < depth; i++) sb.Append(open);
            sb.Append('x');
            for (int i = 0; i < depth; i++) sb.Append(close);
        }
        var (_, bag, elapsed) = Timed(Encoding.UTF8.GetBytes(sb.ToString()));
        var d = FirstError(bag);
        Assert.True(d.Code is "KM1002" or "KM1001", d.ToString());
        Assert.True(elapsed < TimeSpan.FromSeconds(20), $"took {elapsed}");
    }

    [Fact]
    public void Deep_block_mapping_is_refused()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < 3_000; i++) sb.Append(new string(' ', i)).Append("k:\n");
        var (_, bag, _) = Timed(Encoding.UTF8.GetBytes(sb.ToString()));
        Assert.Equal(new KmeshCompiler.Ir.SourceLocation("in.yaml", 65, 65), bag.Items.Single(d => d.Code == Codes.YamlTooDeep.Code).Location);
    }

    [Fact]
    public void Fifty_megabyte_file_with_a_late_mistake_is_located_in_bounded_time()
    {
        var sb = new StringBuilder(52 * 1024 * 1024);
        int i = 0;
        while (sb.Length < 50 * 1024 * 1024)
            sb.Append($"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-{i++}\n  labels: {{team: t{i % 97}, padding: \"{new string('x', 400)}\"}}\n");
        sb.Append("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: [oops\n");
        var bytes = Encoding.UTF8.GetBytes(sb.ToString());
        int lines = sb.ToString().Count(c => c == '\n');
        sb.Clear();
        var (w, bag, elapsed) = Timed(bytes);
        var d = FirstError(bag);
        Assert.Equal(Codes.YamlSyntax.Code, d.Code);
        Assert.True(d.Location.Line >= lines - 1, d.ToString());
        Assert.True(w.Namespaces.Length > 100_000);
        Assert.True(elapsed < TimeSpan.FromSeconds(60), $"took {elapsed}");
    }

    /// <summary>Large files are read in pieces cut at document markers; locations must not notice.</summary>
    [Fact]
    public void Pieces_of_a_large_file_keep_exact_locations()
    {
        var sb = new StringBuilder();
        var expected = new List<int>();
        int line = 1;
        for (int i = 0; sb.Length < 5 * 1024 * 1024; i++)
        {
            bool mistake = i % 997 == 0;
            sb.Append($"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-{i}\n  labels: {{a: \"{new string('y', 100)}\"}}\n");
            if (mistake) { sb.Append("  lables: {}\n"); expected.Add(line + 6); }
            line += mistake ? 7 : 6;
        }
        var (w, bag, _) = Timed(Encoding.UTF8.GetBytes(sb.ToString()));
        var found = bag.Items.Where(d => d.Code == Codes.UnknownField.Code).Select(d => (d.Location.Line, d.Location.Column)).ToList();
        Assert.Equal(expected.Select(l => (l, 3)), found);
        Assert.True(w.Namespaces.Length > 20_000);
    }

    [Fact]
    public void Missing_path_exits_2_and_bad_input_exits_1()
    {
        var r = CliRunner.Run("validate", "examples/does-not-exist");
        Assert.Equal(2, r.Exit);
        Assert.Contains("KM9001", r.Out);
        string tmp = Path.Combine(Path.GetTempPath(), $"kmesh-bad-{Environment.ProcessId}.yaml");
        try
        {
            File.WriteAllText(tmp, "kind: [\n");
            r = CliRunner.Run("validate", tmp);
            Assert.Equal(1, r.Exit);
            Assert.Matches(@":2:1: error KM1001: ", r.Out);
            File.WriteAllText(tmp, "");
            r = CliRunner.Run("validate", tmp);
            Assert.Equal(1, r.Exit);
            Assert.Contains(":1:1: error KM1015:", r.Out);
        }
        finally { File.Delete(tmp); }
    }

    /// <summary>Thousands of deterministic mutations of the example and test files: deleting, inserting,
    /// duplicating, swapping and truncating. No exception may escape, and every error is located.</summary>
    [Fact]
    public void Mutated_inputs_never_throw()
    {
        var seeds = Directory.GetFiles(Repo.Path("examples", "bookinfo"), "*.yaml")
            .Append(Repo.Path("tests", "KmeshCompiler.Tests", "Kubernetes", "cases", "mistakes.yaml"))
            .Order(StringComparer.Ordinal).Select(File.ReadAllText).ToArray();
        string[] tokens = ["- ", ": ", "[", "]", "{", "}", "*", "&a ", "*a", "\"", "'", "\n", "  ", "null", "true", "\t", "---\n",
            "source:", "from:", "to:", "when:", "key: ", "values:", "ports:", "selector:", "matchLabels:", "010.0.0.1", "::/0", "99999", "istio.io/dry-run: \"x\"\n"];
        var rng = new Random(20240601);
        var sw = Stopwatch.StartNew();
        int runs = 0;
        for (; runs < 4000 && sw.Elapsed < TimeSpan.FromSeconds(25); runs++)
        {
            string s = seeds[rng.Next(seeds.Length)];
            int edits = rng.Next(1, 4);
            for (int e = 0; e < edits; e++) s = Mutate(s, rng, tokens);
            DiagnosticBag bag;
            try { bag = Build([new SourceText("m.yaml", Encoding.UTF8.GetBytes(s))]).Bag; }
            catch (Exception ex) { throw new Xunit.Sdk.XunitException($"run {runs}: {ex}\n--- input ---\n{s}"); }
            foreach (var d in bag.Items.Where(d => d.Severity == Severity.Error))
                Assert.True(d.Location.Line > 0, $"run {runs}: unlocated {d}");
        }
        Assert.True(runs >= 1000, $"only {runs} runs in {sw.Elapsed}");
    }

    private static string Mutate(string s, Random rng, string[] tokens)
    {
        if (s.Length == 0) return tokens[rng.Next(tokens.Length)];
        int at = rng.Next(s.Length);
        switch (rng.Next(6))
        {
            case 0: return s.Remove(at, Math.Min(rng.Next(1, 20), s.Length - at));
            case 1: return s.Insert(at, tokens[rng.Next(tokens.Length)]);
            case 2: return s[..at];
            case 3:
            {
                var lines = s.Split('\n').ToList();
                int i = rng.Next(lines.Count), j = rng.Next(lines.Count);
                (lines[i], lines[j]) = (lines[j], lines[i]);
                return string.Join('\n', lines);
            }
            case 4:
            {
                var lines = s.Split('\n').ToList();
                int i = rng.Next(lines.Count);
                lines.Insert(i, lines[rng.Next(lines.Count)]);
                return string.Join('\n', lines);
            }
            default:
            {
                int end = Math.Min(s.Length, at + rng.Next(1, 40));
                return s[..at] + new string(s[at..end].Reverse().ToArray()) + s[end..];
            }
        }
    }
}
