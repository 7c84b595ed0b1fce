/**
 * Checks a package entry point's public API with the TypeScript compiler: no `any` anywhere in
 * what it exports (members, parameters, return types, type arguments), and every type of ours a
 * public signature mentions is exported from the same entry (so users can name it).
 * `npx tsx scripts/api-check.ts src/index.ts` prints the problems and exits 1 when there are any.
 */
import path from 'node:path';
import ts from 'typescript';

export interface ApiProblem {
  kind: 'any' | 'unexported';
  /** Where it was found: `Export.member(param)…`. */
  where: string;
  detail: string;
}

/**
 * The problems of `entry`'s API. A type counts as exported when `entry` or one of `alsoExporting`
 * (the package root, for a subpath) exports it: users can name it from there.
 */
export function checkPublicApi(entry: string, alsoExporting: readonly string[] = [], tsconfig = 'tsconfig.json'): ApiProblem[] {
  const root = process.cwd();
  const config = ts.getParsedCommandLineOfConfigFile(path.resolve(tsconfig), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  const program = ts.createProgram([entry, ...alsoExporting].map((file) => path.resolve(file)), config?.options ?? {});
  const checker = program.getTypeChecker();
  const moduleOf = (file: string): ts.Symbol => {
    const source = program.getSourceFile(path.resolve(file));
    const symbol = source && checker.getSymbolAtLocation(source);
    if (!symbol) throw new Error(`Cannot read ${file}.`);
    return symbol;
  };
  const moduleSymbol = moduleOf(entry);
  const exported = new Set<ts.Symbol>();
  for (const file of [entry, ...alsoExporting]) for (const symbol of checker.getExportsOfModule(moduleOf(file))) exported.add(resolve(checker, symbol));
  const problems: ApiProblem[] = [];
  const seen = new Set<ts.Type>();
  const ours = (declaration: ts.Declaration): boolean => {
    const file = declaration.getSourceFile().fileName;
    return file.startsWith(path.join(root, 'src')) || file.startsWith(path.join(root, 'migrations'));
  };

  function visitType(type: ts.Type, where: string, depth: number): void {
    if (depth > 12 || seen.has(type)) return;
    if (type.flags & ts.TypeFlags.Any) return void problems.push({ kind: 'any', where, detail: 'any' });
    seen.add(type);
    if (type.isUnionOrIntersection()) return type.types.forEach((t) => visitType(t, where, depth + 1));
    const symbol = type.aliasSymbol ?? type.getSymbol();
    const declaration = symbol?.declarations?.[0];
    if (symbol && declaration && ours(declaration) && isNamedDeclaration(declaration) && !exported.has(resolve(checker, symbol))) {
      problems.push({ kind: 'unexported', where, detail: symbol.getName() });
    }
    const mine = Boolean(symbol && declaration && ours(declaration));
    for (const argument of type.aliasTypeArguments ?? checker.getTypeArguments(type as ts.TypeReference) ?? []) {
      // A vendor generic's defaulted `any` (AsyncIterable<T, any, any>) is the vendor's, not ours.
      if (!mine && argument.flags & ts.TypeFlags.Any) continue;
      visitType(argument, `${where}<>`, depth + 1);
    }
    if (!mine) return; // vendor types (typeorm, node) are theirs to check
    for (const property of checker.getPropertiesOfType(type)) {
      if (isPrivate(property)) continue;
      visitType(checker.getTypeOfSymbol(property), `${where}.${property.getName()}`, depth + 1);
    }
    const constructors = hasPrivateConstructor(declaration!) ? [] : type.getConstructSignatures();
    for (const signature of [...type.getCallSignatures(), ...constructors]) visitSignature(signature, where, depth + 1);
  }

  function visitSignature(signature: ts.Signature, where: string, depth: number): void {
    for (const parameter of signature.getParameters()) visitType(checker.getTypeOfSymbol(parameter), `${where}(${parameter.getName()})`, depth);
    visitType(signature.getReturnType(), `${where}()`, depth);
  }

  for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
    const target = resolve(checker, symbol);
    const declaration = target.declarations?.[0];
    if (!declaration) continue;
    const name = symbol.getName();
    if (target.flags & ts.SymbolFlags.Class) {
      visitType(checker.getDeclaredTypeOfSymbol(target), name, 0);
      visitType(checker.getTypeOfSymbol(target), `${name} (static)`, 0);
    } else if (target.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias)) {
      visitType(checker.getDeclaredTypeOfSymbol(target), name, 0);
    } else {
      visitType(checker.getTypeOfSymbol(target), name, 0);
    }
  }
  return problems;
}

function resolve(checker: ts.TypeChecker, symbol: ts.Symbol): ts.Symbol {
  return symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
}

/** A class whose constructor is private or protected (built by a factory such as Attache.init). */
function hasPrivateConstructor(declaration: ts.Declaration): boolean {
  if (!ts.isClassDeclaration(declaration)) return false;
  return declaration.members.some(
    (member) => ts.isConstructorDeclaration(member) && (ts.getModifiers(member) ?? []).some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword),
  );
}

function isNamedDeclaration(declaration: ts.Declaration): boolean {
  return ts.isClassDeclaration(declaration) || ts.isInterfaceDeclaration(declaration) || ts.isTypeAliasDeclaration(declaration) || ts.isEnumDeclaration(declaration);
}

function isPrivate(symbol: ts.Symbol): boolean {
  const declaration = symbol.valueDeclaration ?? symbol.declarations?.[0];
  if (!declaration) return false;
  if (symbol.getName().startsWith('#') || symbol.getName().startsWith('__#')) return true;
  const modifiers = ts.canHaveModifiers(declaration) ? (ts.getModifiers(declaration) ?? []) : [];
  return modifiers.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // The first entry is the package root; the others are subpaths, whose users can also import from the root.
  const [rootEntry, ...subpaths] = process.argv.slice(2);
  const problems = [rootEntry!, ...subpaths].flatMap((entry) => checkPublicApi(entry, entry === rootEntry ? [] : [rootEntry!]).map((p) => ({ entry, ...p })));
  for (const p of problems) console.log(`${p.entry}: ${p.kind} ${p.detail} at ${p.where}`);
  process.exitCode = problems.length > 0 ? 1 : 0;
}
