using System.Collections.Immutable;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Lowering;

/// <summary>Which items of an array in canonical order changed from the previous one, by object:
/// the items gone (removed or replaced) and the items come (added or replacing), with the positions
/// of the latter in the new array. One merge walk; unchanged items are the same objects and are only
/// compared by reference. The new array need not be in order: its unchanged items keep their old
/// order, so it is in order exactly when every adjacent pair with a new item is
/// (<see cref="InOrder"/>).</summary>
internal sealed record SortedDiff<T>(List<T> Gone, List<T> Come, List<int> ComeAt) where T : class
{
    /// <summary>The difference, or null when more than <paramref name="max"/> items changed.</summary>
    public static SortedDiff<T>? Of(ImmutableArray<T> before, ImmutableArray<T> now, Comparison<T> compare, int max)
    {
        var gone = new List<T>();
        var come = new List<T>();
        var comeAt = new List<int>();
        int x = 0, y = 0;
        while (x < before.Length || y < now.Length)
        {
            if (x < before.Length && y < now.Length && ReferenceEquals(before[x], now[y])) { x++; y++; continue; }
            int cmp = x == before.Length ? 1 : y == now.Length ? -1 : compare(before[x], now[y]);
            if (cmp <= 0) gone.Add(before[x++]);
            if (cmp >= 0) { comeAt.Add(y); come.Add(now[y++]); }
            if (gone.Count + come.Count > max) return null;
        }
        return new SortedDiff<T>(gone, come, comeAt);
    }

    /// <summary>Whether <paramref name="now"/> (the array this difference was taken to) is in order.</summary>
    public bool InOrder(ImmutableArray<T> now, Comparison<T> compare)
    {
        foreach (int y in ComeAt)
        {
            if (y > 0 && compare(now[y - 1], now[y]) > 0) return false;
            if (y + 1 < now.Length && compare(now[y], now[y + 1]) > 0) return false;
        }
        return true;
    }
}

/// <summary>The canonical orders of the world's arrays (World.Canonical), as comparisons that build no strings.</summary>
internal static class CanonicalOrder
{
    public static readonly Comparison<Workload> Workloads = (a, b) => string.CompareOrdinal(a.Uid, b.Uid);
    public static readonly Comparison<Policy> Policies = (a, b) => Lowerer.CompareKeys(a.Namespace, a.Name, b.Namespace, b.Name);
    public static readonly Comparison<Service> Services = (a, b) => Lowerer.CompareKeys(a.Namespace, a.Hostname, b.Namespace, b.Hostname);
}
