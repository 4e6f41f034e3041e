using System.Text;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Kubernetes;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Kubernetes;

/// <summary>The fast reader must give exactly YamlDotNet's tree (values, plain/quoted, locations) for
/// every document it accepts, and give up on everything else.</summary>
public class FastYamlTests
{
    private static int Compare(string text)
    {
        var docs = YamlTree.Documents(text.AsMemory());
        if (docs is null) return 0;
        int accepted = 0;
        foreach (var (start, end, line) in docs)
        {
            var fast = FastYaml.TryParse(text, start, end, "f.yaml", line);
            if (fast is null) continue;
            accepted++;
            var bag = new DiagnosticBag();
            var slow = YamlTree.ReadWithYamlDotNet(new SourceText("f.yaml", []), text.AsMemory(start, end - start), line, bag).ToList();
            if (bag.HasErrors || slow.Count != 1 || slow[0].Root is null)
                throw new Xunit.Sdk.XunitException($"fast reader accepted what YamlDotNet rejects:\n{Kube.Dump(bag)}\n--- document ---\n{text[start..end]}");
            Same(fast, slow[0].Root!, "$", text[start..end]);
        }
        return accepted;
    }

    private static void Same(YNode a, YNode b, string path, string doc)
    {
        void Fail(string what) => throw new Xunit.Sdk.XunitException($"{path}: {what}\n--- document ---\n{doc}");
        if (a.GetType() != b.GetType()) Fail($"{a.Describe()} vs {b.Describe()}");
        if (a.Location != b.Location) Fail($"location {a.Location} vs {b.Location}");
        switch (a)
        {
            case YScalar sa:
                var sb = (YScalar)b;
                if (sa.Value != sb.Value || sa.Plain != sb.Plain) Fail($"scalar '{sa.Value}' ({sa.Plain}) vs '{sb.Value}' ({sb.Plain})");
                break;
            case YSeq qa:
                var qb = (YSeq)b;
                if (qa.Items.Count != qb.Items.Count) Fail($"{qa.Items.Count} items vs {qb.Items.Count}");
                for (int i = 0; i < qa.Items.Count; i++) Same(qa.Items[i], qb.Items[i], $"{path}[{i}]", doc);
                break;
            case YMap ma:
                var mb = (YMap)b;
                if (ma.Entries.Count != mb.Entries.Count) Fail($"{ma.Entries.Count} entries vs {mb.Entries.Count}");
                for (int i = 0; i < ma.Entries.Count; i++)
                {
                    Same(ma.Entries[i].Key, mb.Entries[i].Key, $"{path}.key{i}", doc);
                    Same(ma.Entries[i].Value, mb.Entries[i].Value, $"{path}.{ma.Entries[i].Key.Value}", doc);
                }
                break;
        }
    }

    private static IEnumerable<string> Corpus() =>
        Directory.GetFiles(Repo.Path("examples"), "*.yaml", SearchOption.AllDirectories)
            .Append(Repo.Path("tests", "KmeshCompiler.Tests", "Kubernetes", "cases", "mistakes.yaml"))
            .Order(StringComparer.Ordinal).Select(File.ReadAllText);

    [Fact]
    public void Agrees_with_yamldotnet_on_the_examples()
    {
        int accepted = Corpus().Sum(Compare);
        Assert.True(accepted > 20, $"only {accepted} documents took the fast path");
    }

    [Theory]
    [InlineData("a: 1\nb: \"x\\\"y\"\nc: 'it''s'\nd: [1, \"2\", {e: f}]\ne: {}\nf: []\n")]
    [InlineData("- a\n- - b\n  - c\n- d: 1\n  e: 2\n-   f: 3\n")]
    [InlineData("k:\n- a\n- b\nl: x # comment\n# full comment\nm:\n  n: o  \n")]
    [InlineData("a: b:c\nd: -1\ne: x[y]\nf: http://x/y?z=1#frag\n")]
    [InlineData("\"quoted key\": 1\n'single': 2\nplain key: 3\n")]
    [InlineData("a:\n    deep:\n        deeper: [x, y]\n")]
    [InlineData("a: b\r\nc: d\r\n")]
    public void Agrees_with_yamldotnet_on_the_subset(string text) => Assert.Equal(1, Compare(text));

    [Theory]
    [InlineData("a: &x 1\nb: *x\n")]
    [InlineData("a: |\n  text\n")]
    [InlineData("a: multi\n  line\n")]
    [InlineData("a:\nb: 1\n")]
    [InlineData("a: 1\na: 2\n")]
    [InlineData("a: !tag x\n")]
    [InlineData("a: [1,\n  2]\n")]
    [InlineData("- \n- a\n")]
    [InlineData("a: b: c\n")]
    [InlineData("a: \"\\u0041\"\n")]
    [InlineData("<<: {a: 1}\n")]
    [InlineData("? a\n: b\n")]
    public void Gives_up_outside_the_subset(string text)
    {
        var docs = YamlTree.Documents(text.AsMemory())!;
        Assert.Null(FastYaml.TryParse(text, docs[0].Start, docs[0].End, "f.yaml", 0));
    }

    [Fact]
    public void Agrees_with_yamldotnet_on_mutated_inputs()
    {
        var seeds = Corpus().ToArray();
        string[] tokens = ["- ", ": ", "[", "]", "{", "}", "\"", "'", "\n", "  ", " #", "#", ",", "x", "-1", "\r\n", "---\n", "a:", " "];
        var rng = new Random(4242);
        int accepted = 0;
        for (int run = 0; run < 1500; run++)
        {
            var s = new StringBuilder(seeds[rng.Next(seeds.Length)]);
            for (int e = rng.Next(1, 4); e > 0; e--)
            {
                int at = rng.Next(s.Length);
                if (rng.Next(2) == 0) s.Remove(at, Math.Min(rng.Next(1, 6), s.Length - at));
                else s.Insert(at, tokens[rng.Next(tokens.Length)]);
            }
            accepted += Compare(s.ToString());
        }
        Assert.True(accepted > 1000, $"only {accepted} documents took the fast path");
    }
}
