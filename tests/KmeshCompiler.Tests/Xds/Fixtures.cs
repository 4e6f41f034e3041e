using System.Globalization;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Xds;

/// <summary>Loads the hand-written snapshots of tests/KmeshCompiler.Tests/Xds/fixtures. Binary ones
/// are annotated hex (<c>*.pb.hex</c>: hex pairs, '#' comments) so a reviewer can read every byte.</summary>
public static class Fixtures
{
    public static string Dir => Repo.Path("tests", "KmeshCompiler.Tests", "Xds", "fixtures");

    public static byte[] Bytes(string name)
    {
        string path = Path.Combine(Dir, name);
        if (!name.EndsWith(".hex", StringComparison.Ordinal)) return File.ReadAllBytes(path);
        var bytes = new List<byte>();
        foreach (var raw in File.ReadAllLines(path))
        {
            int hash = raw.IndexOf('#');
            var line = hash < 0 ? raw : raw[..hash];
            foreach (var tok in line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                bytes.Add(byte.Parse(tok, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        }
        return [.. bytes];
    }

    /// <summary>Reads a fixture as the CLI would: the file name without ".hex" decides its kind.</summary>
    public static World Read(string name, out DiagnosticBag bag)
    {
        bag = new DiagnosticBag();
        string shown = name.EndsWith(".hex", StringComparison.Ordinal) ? name[..^4] : name;
        return XdsFrontend.Read(new SourceText(shown, Bytes(name)), FrontendSettings.Default, bag);
    }

    public static Diagnostic Single(DiagnosticBag bag, string code, string resource)
    {
        var hits = bag.Items.Where(d => d.Code == code && d.Location.Resource == resource).ToList();
        Assert.True(hits.Count == 1, $"expected one {code} for '{resource}', got {hits.Count}; all: {string.Join("\n", bag.Items)}");
        return hits[0];
    }
}
