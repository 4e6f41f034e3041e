using System.Collections.Immutable;
using System.Runtime.InteropServices;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Image;
using KmeshCompiler.Lowering;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>Images for loader tests: the bookinfo example's nodes, and hand-built pairs whose tables
/// cannot be mixed without the mix showing.</summary>
public static class LoaderImages
{
    public static ImageFile Bookinfo(string node)
    {
        var load = InputLoader.Load([Repo.Path("examples", "bookinfo")], FrontendSettings.Default);
        var bag = new DiagnosticBag();
        return Lowerer.Lower(load.World, node, bag) ?? throw new InvalidOperationException(string.Join("; ", bag.Sorted()));
    }

    public static byte[] Row<T>(T v) where T : unmanaged => MemoryMarshal.AsBytes(new ReadOnlySpan<T>(ref v)).ToArray();

    public static ImageEntry Entry<TK, TV>(TK k, TV v) where TK : unmanaged where TV : unmanaged => new(Row(k), Row(v));

    public static ImageFile MakeImage(string node, IEnumerable<(string Table, IEnumerable<ImageEntry> Rows)> tables, IReadOnlyDictionary<(NameKind, uint), string>? names = null)
    {
        var byName = tables.ToDictionary(t => t.Table, t => t.Rows.ToList());
        var sections = Layout.ImageMaps.Where(m => byName.ContainsKey(m.Name)).Select(m => ImageSection.For(m, byName[m.Name])).ToImmutableArray();
        return new ImageFile(node, Layout.AbiHash, sections, names ?? new Dictionary<(NameKind, uint), string>());
    }

    /// <summary>Dense array rows 0..n-1 with <paramref name="row"/> giving each value.</summary>
    public static IEnumerable<ImageEntry> Rows<T>(int n, Func<uint, T> row) where T : unmanaged =>
        Enumerable.Range(0, n).Select(i => Entry((uint)i, row((uint)i)));
}
