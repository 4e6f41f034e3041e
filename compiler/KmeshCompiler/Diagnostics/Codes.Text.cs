namespace KmeshCompiler.Diagnostics;

// KM6xxx: the .kpl text language (grammar/README.md), kmeshc fmt and kmeshc test.
public static partial class Codes
{
    public static readonly DiagnosticDescriptor KplSyntax = new("KM6001", Severity.Error, "expected {0}, found {1}");
    public static readonly DiagnosticDescriptor KplUnterminatedString = new("KM6002", Severity.Error, "unterminated string: add the closing '\"' on the same line");
    public static readonly DiagnosticDescriptor KplBadCharacter = new("KM6003", Severity.Error, "unexpected character {0}; quote values that contain it (\"...\")");
    public static readonly DiagnosticDescriptor KplInvalidUtf8 = new("KM6004", Severity.Error, "the file is not valid UTF-8 (byte 0x{0:X2} at offset {1}); save it as UTF-8");
    public static readonly DiagnosticDescriptor KplUnknownField = new("KM6005", Severity.Error, "'{0}' is not a field of {1}{2}; expected one of: {3}");
    public static readonly DiagnosticDescriptor KplDuplicateField = new("KM6006", Severity.Error, "'{0}' is given twice in this {1} (first at line {2}); write it once, with all its values");
    public static readonly DiagnosticDescriptor KplBadValue = new("KM6007", Severity.Error, "{0}");
    public static readonly DiagnosticDescriptor KplArity = new("KM6008", Severity.Error, "'{0}' takes {1}, found {2}");
    public static readonly DiagnosticDescriptor KplBadEscape = new("KM6009", Severity.Error, "invalid escape '{0}' in a string; use \\\\, \\\", \\n, \\r, \\t or \\uXXXX");
    public static readonly DiagnosticDescriptor KplTooManyErrors = new("KM6010", Severity.Error, "too many errors ({0}); stopped reading this file");
    public static readonly DiagnosticDescriptor KplTestStatementInWorld = new("KM6011", Severity.Error, "'{0}' belongs in a policy test file (*.test.kpl); run it with 'kmeshc test'");
    public static readonly DiagnosticDescriptor KplDuplicate = new("KM6012", Severity.Error, "{0} '{1}' is defined twice in this file (first at line {2}); remove one of them");
    public static readonly DiagnosticDescriptor KplCommentDropped = new("KM6013", Severity.Warning, "this comment has no place in the canonical form and would be lost; move it to its own line above a statement or field");
    public static readonly DiagnosticDescriptor KplNotCanonical = new("KM6014", Severity.Error, "not in canonical form; run 'kmeshc fmt {0}'");
    public static readonly DiagnosticDescriptor KplTestNoWorld = new("KM6020", Severity.Error, "this test file names no world and defines none: add a line like 'world \"../cluster\"' (paths are relative to the test file)");
    public static readonly DiagnosticDescriptor KplTestUnknownWorkload = new("KM6021", Severity.Error, "no workload '{0}' in the test's world{1}");
    public static readonly DiagnosticDescriptor KplTestUnknownService = new("KM6022", Severity.Error, "no service '{0}' in the test's world (give namespace/name or namespace/hostname){1}");
    public static readonly DiagnosticDescriptor KplTestFailed = new("KM6023", Severity.Error, "expectation failed: {0}");
    public static readonly DiagnosticDescriptor KplTestNoExpectations = new("KM6024", Severity.Warning, "this test file has no 'expect' lines");
    public static readonly DiagnosticDescriptor NotKpl = new("KM6026", Severity.Error, "this file holds {0}, not the text language: {1}");
    public static readonly DiagnosticDescriptor KplTestWorldHasErrors = new("KM6025", Severity.Error, "the test's world has errors (listed above); fix them first");
}
