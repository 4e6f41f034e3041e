using System.IO.Hashing;

namespace KmeshCompiler.Lowering;

/// <summary>Numbers that stay put when other things come and go (docs/dataplane-layout.md, "Load
/// balancing"): a thing's number is the XXH32 of its name (0 is never used); a collision takes the
/// next free number, in the order things are numbered. A compile numbers everything in one order, so
/// the result depends on the world alone. <see cref="TryAdd"/> and <see cref="TryRemove"/> change a
/// numbering in place exactly as numbering the new set from scratch would, or refuse (collisions,
/// rare at cluster sizes) so that the caller numbers from scratch.</summary>
internal sealed class StableIds<TKey> where TKey : notnull
{
    private readonly Func<TKey, uint> _home;
    private readonly Dictionary<TKey, uint> _ids;
    private readonly Dictionary<uint, TKey> _owners;

    public StableIds(Func<TKey, uint> home, IEqualityComparer<TKey>? comparer = null, int capacity = 0)
    {
        _home = home;
        _ids = new Dictionary<TKey, uint>(capacity, comparer);
        _owners = new Dictionary<uint, TKey>(capacity);
    }

    public int Count => _ids.Count;

    public bool TryGet(TKey key, out uint id) => _ids.TryGetValue(key, out id);

    /// <summary>Numbers <paramref name="key"/> (or returns its number), probing past collisions.</summary>
    public uint Number(TKey key)
    {
        if (_ids.TryGetValue(key, out uint id)) return id;
        id = _home(key);
        while (id == 0 || _owners.ContainsKey(id)) id++;
        _ids[key] = id;
        _owners[id] = key;
        return id;
    }

    /// <summary>Numbers a key added after the others, when that gives the number a fresh numbering
    /// would: its home number is free (nothing probed past it, so nothing else moves).</summary>
    public bool TryAdd(TKey key, out uint id)
    {
        if (_ids.TryGetValue(key, out id)) return true;
        id = _home(key);
        if (id == 0 || _owners.ContainsKey(id)) return false;
        _ids[key] = id;
        _owners[id] = key;
        return true;
    }

    /// <summary>Forgets a key, when no other key probed past its number (else that key would move).</summary>
    public bool TryRemove(TKey key)
    {
        if (!_ids.TryGetValue(key, out uint id)) return true;
        for (uint next = id + 1; _owners.TryGetValue(next, out var other); next++)
            if (_ids[other] != _home(other)) return false;
        _ids.Remove(key);
        _owners.Remove(id);
        return true;
    }

    public static uint Hash(ReadOnlySpan<byte> name) => XxHash32.HashToUInt32(name);
}
