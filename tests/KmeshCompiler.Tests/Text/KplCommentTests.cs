using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends.Text;
using KmeshCompiler.Ir;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Text;

/// <summary>fmt keeps comments: wherever a comment is put, the canonical form either holds it (and
/// is a fixed point) or fmt refuses to drop it.</summary>
public class KplCommentTests
{
    private static KplDocument Read(string text, out DiagnosticBag bag)
    {
        bag = new DiagnosticBag();
        return KplFrontend.Parse(text, "c.kpl", bag);
    }

    [Fact]
    public void Comments_anywhere_are_kept_or_refused_never_lost()
    {
        var rng = new Random(11);
        var sources = Directory.GetFiles(Repo.Path("golden", "ir", "tricky"), "*.kpl").Order(StringComparer.Ordinal)
            .Select(File.ReadAllText).ToList();
        int kept = 0;
        for (int iter = 0; iter < 200; iter++)
        {
            var lines = sources[iter % sources.Count].Split('\n').ToList();
            int n = rng.Next(1, 4);
            var marks = new List<string>();
            for (int k = 0; k < n; k++)
            {
                string mark = $"# note-{iter}-{k}";
                marks.Add(mark);
                int at = rng.Next(lines.Count);
                if (rng.Next(2) == 0) lines.Insert(at, new string(' ', rng.Next(4)) + mark);
                else if (lines[at].Trim().Length > 0 && !lines[at].Contains('#')) lines[at] += "  " + mark;
                else lines.Insert(at, mark);
            }
            string text = string.Join('\n', lines);
            var doc = Read(text, out var bag);
            Assert.False(bag.HasErrors, string.Join("\n", bag.Items) + "\n" + text);
            if (doc.Comments.Orphans.Count > 0) continue; // fmt refuses: reported as KM6013
            string once = KplPrinter.Print(doc);
            foreach (var m in marks) Assert.True(once.Contains(m, StringComparison.Ordinal), $"lost '{m}'\n--- input\n{text}\n--- output\n{once}");
            var again = Read(once, out var bag2);
            Assert.False(bag2.HasErrors);
            Assert.Empty(again.Comments.Orphans);
            Assert.Equal(once, KplPrinter.Print(again));
            Assert.Null(IrEquality.FirstDifference(doc.World, again.World));
            kept++;
        }
        Assert.True(kept > 150, $"only {kept} of 200 files kept their comments");
    }

    [Fact]
    public void A_comment_between_values_is_refused_by_fmt()
    {
        var doc = Read("policy a/p deny {\n  rule { match { ports 80 # x\n 81 } }\n}\n", out var bag);
        // "81" after a line end is a new (unknown) field line: an error, so fmt would not rewrite anyway.
        Assert.True(bag.HasErrors || doc.Comments.Orphans.Count > 0);
    }

    [Fact]
    public void Header_comment_stays_on_top_when_items_are_sorted()
    {
        var doc = Read("# header\n\n# about b\nnamespace b\n# about a\nnamespace a\n", out var bag);
        Assert.Empty(bag.Items);
        Assert.Equal("# header\n\n# about a\nnamespace a\n# about b\nnamespace b\n", KplPrinter.Print(doc));
    }
}
