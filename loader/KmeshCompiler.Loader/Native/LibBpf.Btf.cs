using System.Runtime.InteropServices;

namespace KmeshCompiler.Loader.Native;

/// <summary>libbpf's BTF reader (btf.h).</summary>
internal static unsafe partial class LibBpf
{
    [LibraryImport(Lib, EntryPoint = "btf__parse", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint BtfParse(string path, nint extOut);

    [LibraryImport(Lib, EntryPoint = "btf__free")]
    internal static partial void BtfFree(nint btf);

    [LibraryImport(Lib, EntryPoint = "btf__type_cnt")]
    internal static partial uint BtfTypeCnt(nint btf);

    [LibraryImport(Lib, EntryPoint = "btf__type_by_id")]
    internal static partial BtfType* BtfTypeById(nint btf, uint id);

    [LibraryImport(Lib, EntryPoint = "btf__name_by_offset")]
    internal static partial byte* BtfNameByOffset(nint btf, uint offset);

    [LibraryImport(Lib, EntryPoint = "btf__resolve_size")]
    internal static partial long BtfResolveSize(nint btf, uint typeId);

    /// <summary>struct btf_type: name_off, info (vlen | kind &lt;&lt; 24 | kflag &lt;&lt; 31), size or type.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct BtfType
    {
        public uint NameOff;
        public uint Info;
        public uint SizeOrType;
    }

    /// <summary>struct btf_member, following a struct's btf_type.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct BtfMember
    {
        public uint NameOff;
        public uint Type;
        public uint Offset;
    }
}
