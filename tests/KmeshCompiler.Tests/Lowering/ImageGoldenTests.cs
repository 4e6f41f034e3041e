using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Lowering;

/// <summary>Text renderings of node images, reviewed like code: golden/image/&lt;case&gt;/&lt;node&gt;.txt.
/// Each is produced through <c>kmeshc compile --text</c> and must equal <c>kmeshc inspect</c> of the
/// image written beside it.</summary>
[Trait("Category", "Golden")]
public class ImageGoldenTests
{
    public static readonly TheoryData<string, string, string> Cases = new()
    {
        { "examples/bookinfo", "node-a", "image/bookinfo/node-a.txt" },
        { "examples/bookinfo", "node-b", "image/bookinfo/node-b.txt" },
        { "examples/bookinfo", "node-c", "image/bookinfo/node-c.txt" },
        { "golden/image/tricky/tables.kpl", "node-a", "image/tricky/tables.node-a.txt" },
        { "golden/image/tricky/tables.kpl", "node-b", "image/tricky/tables.node-b.txt" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void RenderingMatchesAndEqualsInspect(string input, string node, string golden)
    {
        string dir = Directory.CreateTempSubdirectory("kmesh-golden").FullName;
        try
        {
            string img = Path.Combine(dir, "node.img"), txt = Path.Combine(dir, "node.txt");
            var r = CliRunner.Run("compile", input, "--node", node, "-o", img, "--text", txt);
            Assert.True(r.Exit == 0, r.Err);
            string text = File.ReadAllText(txt);
            var inspect = CliRunner.Run("inspect", img);
            Assert.Equal(0, inspect.Exit);
            Assert.Equal(text, inspect.Out);
            Golden.Assert(golden, text);
        }
        finally { Directory.Delete(dir, true); }
    }
}
