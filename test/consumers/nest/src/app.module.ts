import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { attacheEntities } from 'attache';
import { AttacheModule } from 'attache/nest';
import { CreateActiveStorageTables1700000000000 } from 'attache/migrations/1700000000000-CreateActiveStorageTables';
import { User } from './user.entity';
import { UsersController } from './users.controller';

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'postgres',
      url: process.env.DATABASE_URL,
      entities: [...attacheEntities, User],
      migrations: [CreateActiveStorageTables1700000000000],
      migrationsRun: true,
    }),
    TypeOrmModule.forFeature([User]),
    AttacheModule.forRootAsync({
      inject: [DataSource],
      useFactory: (dataSource: DataSource) => ({
        dataSource,
        configFile: 'config/storage.yml',
        service: 'local',
        secret: process.env.ATTACHE_SECRET,
      }),
    }),
  ],
  controllers: [UsersController],
})
export class AppModule {}
