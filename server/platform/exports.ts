import type { FastifyReply } from 'fastify';
import ExcelJS from 'exceljs';

/**
 * Table exports: one helper turns a table into an .xlsx workbook (exceljs: bold, frozen header row,
 * column widths) or a CSV that Excel opens as UTF-8 (BOM, RFC 4180 quoting), and sets the reply's
 * Content-Type and Content-Disposition (ASCII fallback name plus RFC 5987 `filename*` for Chinese).
 *
 * Usage in a route:
 *   return sendTable(reply, format, { sheetName: '网格考核', columns, rows }, '网格考核-2026-11');
 */

export type ExportFormat = 'xlsx' | 'csv';

export type ExportCell = string | number | boolean | Date | null | undefined;

export interface ExportColumn<Row = Record<string, ExportCell>> {
  /** Property of the row (or a function of the row) that gives the cell. */
  key: (keyof Row & string) | ((row: Row) => ExportCell);
  /** Header text (Chinese first: the file is for the centre's staff). */
  header: string;
  /** Column width in characters (Excel's unit); default 14. */
  width?: number;
  /** Excel number format for the column, e.g. '0.0%' or 'yyyy-mm-dd hh:mm'. */
  numFmt?: string;
}

export interface ExportTable<Row = Record<string, ExportCell>> {
  /** Sheet name: at most 31 characters, none of []:*?/\ (cleaned here). */
  sheetName: string;
  columns: ExportColumn<Row>[];
  rows: Row[];
}

export const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
export const CSV_TYPE = 'text/csv; charset=utf-8';

function cellOf<Row>(row: Row, column: ExportColumn<Row>): ExportCell {
  return typeof column.key === 'function' ? column.key(row) : (row[column.key] as ExportCell);
}

/** A sheet name Excel accepts. */
export function safeSheetName(name: string): string {
  const cleaned = name.replace(/[[\]:*?/\\]/g, ' ').trim().slice(0, 31);
  return cleaned || 'Sheet1';
}

/** Adds one sheet for `table` to `workbook` (several tables make a multi-sheet report). */
export function addSheet<Row>(workbook: ExcelJS.Workbook, table: ExportTable<Row>): ExcelJS.Worksheet {
  const sheet = workbook.addWorksheet(safeSheetName(table.sheetName), {
    views: [{ state: 'frozen', xSplit: 0, ySplit: 1 }],
  });
  sheet.columns = table.columns.map((c, i) => ({
    header: c.header,
    key: `c${i}`,
    width: c.width ?? 14,
    ...(c.numFmt ? { style: { numFmt: c.numFmt } } : {}),
  }));
  for (const row of table.rows) {
    const values: Record<string, ExportCell> = {};
    table.columns.forEach((c, i) => {
      const v = cellOf(row, c);
      values[`c${i}`] = v === undefined ? null : v;
    });
    sheet.addRow(values);
  }
  const header = sheet.getRow(1);
  header.font = { bold: true };
  header.alignment = { vertical: 'middle' };
  header.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFE8EEF5' } };
  return sheet;
}

/** The workbook's bytes. */
export async function workbookBuffer(workbook: ExcelJS.Workbook): Promise<Buffer> {
  return Buffer.from(await workbook.xlsx.writeBuffer());
}

/** One table as an .xlsx file. */
export async function toXlsx<Row>(table: ExportTable<Row>): Promise<Buffer> {
  const workbook = newWorkbook();
  addSheet(workbook, table);
  return workbookBuffer(workbook);
}

export function newWorkbook(): ExcelJS.Workbook {
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'Gridline';
  workbook.created = new Date();
  return workbook;
}

function csvField(value: ExportCell): string {
  if (value === null || value === undefined) return '';
  const text = value instanceof Date ? value.toISOString() : String(value);
  // Quote when the field holds a separator, quote, line break, or leading/trailing space.
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One table as CSV: UTF-8 with a BOM (so Excel reads Chinese), CRLF line ends, RFC 4180 quoting. */
export function toCsv<Row>(table: ExportTable<Row>): Buffer {
  const lines = [table.columns.map((c) => csvField(c.header)).join(',')];
  for (const row of table.rows) lines.push(table.columns.map((c) => csvField(cellOf(row, c))).join(','));
  return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(lines.join('\r\n') + '\r\n', 'utf8')]);
}

/**
 * Content-Disposition for a download: an ASCII fallback `filename` (non-ASCII replaced by `_`)
 * and the real name as `filename*=UTF-8''…` (RFC 5987 / 6266).
 */
export function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** Sends bytes already built (e.g. a multi-sheet workbook) as a download. */
export function sendFile(reply: FastifyReply, bytes: Buffer, filename: string, contentType: string): FastifyReply {
  return reply
    .type(contentType)
    .header('content-disposition', contentDisposition(filename))
    .header('cache-control', 'no-store')
    .send(bytes);
}

/**
 * Sends `table` as `<baseName>.xlsx` or `<baseName>.csv`. `baseName` may be Chinese
 * (e.g. '网格考核-2026-11'); the extension is added here.
 */
export async function sendTable<Row>(reply: FastifyReply, format: ExportFormat, table: ExportTable<Row>, baseName: string): Promise<FastifyReply> {
  if (format === 'csv') return sendFile(reply, toCsv(table), `${baseName}.csv`, CSV_TYPE);
  return sendFile(reply, await toXlsx(table), `${baseName}.xlsx`, XLSX_TYPE);
}
