namespace KmeshCompiler.Loader.DataPlane;

/// <summary>The entries one map should hold, as raw key and value bytes (what an image section
/// carries).</summary>
public sealed record MapContent(string Name, int KeySize, int ValueSize, IReadOnlyList<(byte[] Key, byte[] Value)> Entries);

public static class MapWriter
{
    /// <summary>Makes <paramref name="map"/> hold exactly <paramref name="content"/>: removes keys not
    /// in it (hash and LPM maps; array slots are overwritten), then writes every entry, in batches
    /// where the map type has them. Not atomic for readers: for tests and private instances.</summary>
    public static void Replace(BpfMap map, MapContent content)
    {
        if (content.KeySize != map.KeySize || content.ValueSize != map.ValueSize)
            throw new BpfException($"map {map.Name}: content has key {content.KeySize}/value {content.ValueSize} bytes, the program's map {map.KeySize}/{map.ValueSize}", Errno.EINVAL);
        if (content.Entries.Count > map.MaxEntries)
            throw new BpfException($"map {map.Name}: {content.Entries.Count} entries exceed its {map.MaxEntries}", Errno.E2BIG);
        if (map.Type is not (BpfMapType.Array or BpfMapType.PerCpuArray))
        {
            var keep = new HashSet<string>(content.Entries.Select(e => Convert.ToHexString(e.Key)));
            foreach (var k in map.Keys())
                if (!keep.Contains(Convert.ToHexString(k))) map.Delete(k);
        }
        if (content.Entries.Count == 0) return;
        if (map.Type is BpfMapType.Hash or BpfMapType.Array && !map.IsPerCpu)
        {
            var keys = new byte[map.KeySize * content.Entries.Count];
            var vals = new byte[map.ValueSize * content.Entries.Count];
            for (int i = 0; i < content.Entries.Count; i++)
            {
                content.Entries[i].Key.CopyTo(keys, i * map.KeySize);
                content.Entries[i].Value.CopyTo(vals, i * map.ValueSize);
            }
            map.UpdateBatch(keys, vals, content.Entries.Count);
            return;
        }
        foreach (var (k, v) in content.Entries) map.Update(k, v);
    }

    /// <summary>Zeroes every slot of an array map (per-CPU ones included).</summary>
    public static void ZeroArray(BpfMap map)
    {
        var zero = new byte[map.LookupSize];
        for (uint i = 0; i < map.MaxEntries; i++) map.Update(BitConverter.GetBytes(i), zero);
    }
}
