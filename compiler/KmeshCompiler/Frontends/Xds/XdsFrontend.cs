using Google.Protobuf;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;
using Sec = KmeshCompiler.Frontends.Xds.Wire.Security;
using Wl = KmeshCompiler.Frontends.Xds.Wire.Workload;

namespace KmeshCompiler.Frontends.Xds;

/// <summary>xDS snapshot (binary or proto JSON) → IR (xds.md, docs/xds.md). The format is told by
/// <see cref="InputKinds.Classify"/>; the responses are applied in order to a
/// <see cref="SnapshotState"/>, and the final state becomes the world. Nothing here throws for bad
/// input: every problem is a diagnostic naming the message, JSON position or resource.</summary>
public static class XdsFrontend
{
    public static World Read(SourceText source, FrontendSettings settings, DiagnosticBag bag)
    {
        _ = settings; // the wire carries everything istiod decided; no setting changes how it reads
        return Read(source, bag, referenceDecoder: false);
    }

    /// <summary><paramref name="referenceDecoder"/>: binary resources go through the generated
    /// Google.Protobuf parsers rather than <see cref="DirectDecoder"/> (the tests' reference).</summary>
    internal static World Read(SourceText source, DiagnosticBag bag, bool referenceDecoder)
    {
        var state = new SnapshotState();
        var reader = new ResourceReader(source.DisplayPath, state, bag);
        if (InputKinds.Classify(source) == InputKind.XdsJson) JsonSnapshot.Read(source, reader, bag);
        else BinarySnapshot.Read(source, reader, bag, referenceDecoder);
        return state.ToWorld(bag);
    }
}

/// <summary>Decodes one resource (already unwrapped from its envelope) with <see cref="DirectDecoder"/>
/// and puts it into the state.</summary>
internal sealed class ResourceReader(string displayPath, SnapshotState state, DiagnosticBag bag, StringPool? strings = null)
{
    public SnapshotState State => state;

    public StringPool Strings { get; } = strings ?? new();

    private (int Line, int Column) _position;

    /// <summary>Where the resource being read starts (JSON), or (0, 0) when positions are unknown (binary).</summary>
    public void At(int line, int column) => _position = (line, column);

    public SourceLocation Location(string resource) => new(displayPath, _position.Line, _position.Column, resource);

    /// <summary>Binary, through the generated parser first (the tests' reference): the Any's type URL
    /// and value bytes.</summary>
    public void Add(string typeUrl, ByteString value, string name)
    {
        var type = TypeUrls.Classify(typeUrl);
        if (type == ResourceType.Unknown) { Unknown(typeUrl, name); return; }
        IMessage msg;
        try
        {
            msg = type switch
            {
                ResourceType.Address => Wl.Address.Parser.ParseFrom(value),
                ResourceType.Workload => Wl.Workload.Parser.ParseFrom(value),
                _ => Sec.Authorization.Parser.ParseFrom(value),
            };
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidOperationException)
        {
            // Google.Protobuf 3.25 throws InvalidOperationException for some truncated wrappers.
            bag.Report(Codes.XdsUndecodable, Location(name), TypeUrls.MessageName(typeUrl), e.Message);
            return;
        }
        Add(msg, name);
    }

    /// <summary>A message parsed elsewhere (JSON, or the generated parser): its canonical encoding goes
    /// through the one decoder. <paramref name="name"/> is the Resource name, or a position when the
    /// resource came bare (state of the world); the content's own key is then used instead.</summary>
    public void Add(IMessage msg, string name)
    {
        string typeUrl = msg switch
        {
            Wl.Address => TypeUrls.Address,
            Wl.Workload => TypeUrls.Workload,
            _ => TypeUrls.Authorization,
        };
        AddDirect(typeUrl, msg.ToByteArray(), name, IsPosition(name));
    }

    /// <summary>Binary, decoded straight into the IR by <see cref="DirectDecoder"/>.</summary>
    public void AddDirect(string typeUrl, ReadOnlySpan<byte> value, string name, bool namedByPosition)
    {
        if (Decode(typeUrl, value, name, namedByPosition) is { } element) state.Put(element);
    }

    /// <summary>The workload, service or policy the resource holds; null (with a diagnostic) when its
    /// type is unknown, it does not decode, or it is rejected.</summary>
    public object? Decode(string typeUrl, ReadOnlySpan<byte> value, string name, bool namedByPosition)
    {
        var type = TypeUrls.Classify(typeUrl);
        if (type == ResourceType.Unknown) { Unknown(typeUrl, name); return null; }
        try
        {
            return type switch
            {
                ResourceType.Address => DirectDecoder.Address(value, name, namedByPosition, this, bag),
                ResourceType.Workload => DirectDecoder.Workload(value, name, namedByPosition, this, bag),
                _ => DirectDecoder.Authorization(value, name, namedByPosition, this, bag),
            };
        }
        catch (WireException e)
        {
            bag.Report(Codes.XdsUndecodable, Location(name), TypeUrls.MessageName(typeUrl), e.Message);
            return null;
        }
    }

    public void Unknown(string typeUrl, string name)
    {
        // Named one by one: a single warning per type would hide which resources were skipped.
        bag.Report(Codes.XdsUnknownType, Location(name), typeUrl.Length == 0 ? "(no type URL)" : typeUrl, TypeUrls.Known);
    }

    /// <summary>Positions stand in for names of bare resources: "response 2, resources[5]".</summary>
    public static string Position(int response, int index) => $"response {response}, resources[{index}]";

    private static bool IsPosition(string name) => name.StartsWith("response ", StringComparison.Ordinal) && name.EndsWith(']');
}
