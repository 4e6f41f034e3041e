namespace KmeshCompiler.Lowering;

/// <summary>A set of destination ports, finite (the listed ports) or co-finite (every port except the
/// listed ones): the ports for which a match, clause, rule or policy could possibly match, judging
/// ports alone. Closed under union and intersection, so a whole policy folds into one.</summary>
public sealed class PortClass
{
    public bool CoFinite { get; }
    public HashSet<uint> Listed { get; }

    private PortClass(bool coFinite, HashSet<uint> listed) { CoFinite = coFinite; Listed = listed; }

    public static PortClass None() => new(false, []);

    public static PortClass All() => new(true, []);

    public static PortClass Only(IEnumerable<uint> ports) => new(false, [.. ports]);

    public static PortClass AllExcept(IEnumerable<uint> ports) => new(true, [.. ports]);

    public bool Contains(uint port) => CoFinite != Listed.Contains(port);

    public bool IsEmpty => !CoFinite && Listed.Count == 0;

    public static PortClass Union(PortClass a, PortClass b)
    {
        if (!a.CoFinite && !b.CoFinite) { var s = new HashSet<uint>(a.Listed); s.UnionWith(b.Listed); return new(false, s); }
        if (a.CoFinite && b.CoFinite) { var s = new HashSet<uint>(a.Listed); s.IntersectWith(b.Listed); return new(true, s); }
        var (co, fin) = a.CoFinite ? (a, b) : (b, a);
        var ex = new HashSet<uint>(co.Listed);
        ex.ExceptWith(fin.Listed);
        return new(true, ex);
    }

    /// <summary>The union of many classes in one pass (a clause may hold tens of thousands of
    /// matches; pairwise unions would copy quadratically).</summary>
    public static PortClass UnionAll(IReadOnlyCollection<PortClass> classes)
    {
        HashSet<uint>? excluded = null;
        foreach (var c in classes.Where(c => c.CoFinite).OrderBy(c => c.Listed.Count))
        {
            if (excluded is null) excluded = new HashSet<uint>(c.Listed);
            else excluded.IntersectWith(c.Listed);
        }
        if (excluded is not null)
        {
            foreach (var c in classes) if (!c.CoFinite) excluded.ExceptWith(c.Listed);
            return new(true, excluded);
        }
        var listed = new HashSet<uint>();
        foreach (var c in classes) listed.UnionWith(c.Listed);
        return new(false, listed);
    }

    public static PortClass Intersect(PortClass a, PortClass b)
    {
        if (!a.CoFinite && !b.CoFinite) { var s = new HashSet<uint>(a.Listed); s.IntersectWith(b.Listed); return new(false, s); }
        if (a.CoFinite && b.CoFinite) { var s = new HashSet<uint>(a.Listed); s.UnionWith(b.Listed); return new(true, s); }
        var (co, fin) = a.CoFinite ? (a, b) : (b, a);
        var inc = new HashSet<uint>(fin.Listed);
        inc.ExceptWith(co.Listed);
        return new(false, inc);
    }
}
