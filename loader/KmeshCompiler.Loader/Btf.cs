using System.Runtime.InteropServices;
using KmeshCompiler.Loader.Native;

namespace KmeshCompiler.Loader;

/// <summary>One member of a struct as BTF records it: name, byte offset, byte size.</summary>
public sealed record BtfMember(string Name, int Offset, int Size);

/// <summary>A struct's layout as BTF records it.</summary>
public sealed record BtfStruct(string Name, int Size, IReadOnlyList<BtfMember> Members);

/// <summary>The BTF of an object file (clang -g), read with libbpf: used to check that the C# mirrors of
/// the table structs agree with what the compiler laid out.</summary>
public sealed unsafe class BtfFile : IDisposable
{
    private nint _btf;

    private BtfFile(nint btf) => _btf = btf;

    public static BtfFile Open(string path)
    {
        nint btf = LibBpf.BtfParse(path, 0);
        if (btf == 0) throw new BpfException($"read BTF of {path}", Marshal.GetLastPInvokeError());
        return new BtfFile(btf);
    }

    private const int KindStruct = 4, KindUnion = 5, KindTypedef = 8;

    /// <summary>Every struct type with a name, by name.</summary>
    public IReadOnlyDictionary<string, BtfStruct> Structs()
    {
        var res = new SortedDictionary<string, BtfStruct>(StringComparer.Ordinal);
        uint n = LibBpf.BtfTypeCnt(_btf);
        for (uint id = 1; id < n; id++)
        {
            var t = LibBpf.BtfTypeById(_btf, id);
            int kind = (int)((t->Info >> 24) & 0x1f);
            if (kind is not (KindStruct or KindUnion)) continue;
            string name = LibBpf.Str(LibBpf.BtfNameByOffset(_btf, t->NameOff)) ?? "";
            if (name.Length == 0) continue;
            res[name] = Read(t, name);
        }
        return res;
    }

    private BtfStruct Read(LibBpf.BtfType* t, string name)
    {
        int vlen = (int)(t->Info & 0xffff);
        bool kflag = (t->Info >> 31) != 0;
        var members = new List<BtfMember>(vlen);
        var m = (LibBpf.BtfMember*)(t + 1);
        for (int i = 0; i < vlen; i++)
        {
            uint bitOffset = kflag ? m[i].Offset & 0xffffff : m[i].Offset;
            long size = LibBpf.BtfResolveSize(_btf, m[i].Type);
            members.Add(new BtfMember(LibBpf.Str(LibBpf.BtfNameByOffset(_btf, m[i].NameOff)) ?? "", (int)(bitOffset / 8), (int)size));
        }
        return new BtfStruct(name, (int)t->SizeOrType, members);
    }

    public void Dispose()
    {
        if (_btf != 0) LibBpf.BtfFree(_btf);
        _btf = 0;
    }
}
