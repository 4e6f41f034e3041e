namespace KmeshCompiler.Lowering;

/// <summary>An immutable sequence of ids with structural equality: the hash-consing key of lists,
/// port sets and evals.</summary>
public readonly struct IdList : IEquatable<IdList>
{
    private readonly uint[] _ids;
    private readonly int _hash;

    public IdList(uint[] ids)
    {
        _ids = ids;
        var h = new HashCode();
        foreach (var i in ids) h.Add(i);
        _hash = h.ToHashCode();
    }

    public ReadOnlySpan<uint> Span => _ids;

    public int Count => _ids.Length;

    public uint[] ToArray() => (uint[])_ids.Clone();

    public bool Equals(IdList other) => _hash == other._hash && _ids.AsSpan().SequenceEqual(other._ids);

    public override bool Equals(object? obj) => obj is IdList l && Equals(l);

    public override int GetHashCode() => _hash;

    /// <summary>Sorted and duplicate-free.</summary>
    public static uint[] SortedSet(IEnumerable<uint> ids)
    {
        var a = ids.Distinct().ToArray();
        Array.Sort(a);
        return a;
    }
}
