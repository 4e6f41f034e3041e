using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Text;

/// <summary>The textual IR language (.kpl) → IR. The syntax is in grammar/README.md.</summary>
public static class KplFrontend
{
    /// <summary>Reads a world file. Policy-test statements (world, expect) are errors here: a test
    /// file is run by <c>kmeshc test</c>, not loaded as a world.</summary>
    public static World Read(SourceText source, DiagnosticBag bag)
    {
        var doc = ReadDocument(source, bag);
        foreach (var r in doc.WorldRefs) bag.Add(Codes.KplTestStatementInWorld, r.Location, "world");
        foreach (var e in doc.Expectations) bag.Add(Codes.KplTestStatementInWorld, e.Location, "expect");
        return doc.World;
    }

    /// <summary>Reads any .kpl file, test files included, keeping comments for the formatter.</summary>
    public static KplDocument ReadDocument(SourceText source, DiagnosticBag bag)
    {
        var tree = KplSyntax.Parse(source, bag);
        return KplBinder.Bind(tree, bag);
    }

    /// <summary>Parses text held in memory (tests, tools).</summary>
    public static KplDocument Parse(string text, string file, DiagnosticBag bag) =>
        KplBinder.Bind(KplSyntax.Parse(text, file, bag), bag);
}
